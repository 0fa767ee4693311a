"""The projector process's interpreter settings are set for the block and put back after."""

from __future__ import annotations

import gc
import sys

import pytest

from adapters.lifetime import YOUNG_COLLECTION_EVERY
from projections.engine import tuning

pytestmark = pytest.mark.unit


def test_settings_apply_inside_the_block_and_are_restored_after() -> None:
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    with tuning.projector_process():
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_EVERY
        assert gc.get_threshold()[1:] == thresholds[1:]
        assert sys.getswitchinterval() == pytest.approx(tuning.SWITCH_INTERVAL)
        assert gc.get_freeze_count() > 0  # what was alive at start is no longer walked
    assert gc.get_threshold() == thresholds
    assert sys.getswitchinterval() == pytest.approx(interval)
    assert gc.get_freeze_count() == 0


def test_settings_are_restored_when_the_block_fails() -> None:
    thresholds = gc.get_threshold()
    with pytest.raises(RuntimeError), tuning.projector_process():
        raise RuntimeError("stopped")
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0
