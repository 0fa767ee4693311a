"""`cairn up` runs the projectors in one process unless CAIRN_PROJECTOR_GROUPS asks for more."""

from __future__ import annotations

import pytest

from entrypoints.projector_cli import projector_groups
from projections.engine import projector_registry

pytestmark = pytest.mark.unit

NAMES = list(projector_registry.PROJECTORS)


def test_one_group_holds_every_projector() -> None:
    assert projector_groups(1) == [NAMES]


@pytest.mark.parametrize("groups", [len(NAMES), len(NAMES) + 3, 64])
def test_as_many_groups_as_projectors_or_more_is_one_process_each(groups: int) -> None:
    assert projector_groups(groups) == [[name] for name in NAMES]


def test_groups_in_between_deal_every_projector_once() -> None:
    dealt = projector_groups(2)
    assert len(dealt) == 2 and all(dealt)
    assert sorted(name for group in dealt for name in group) == sorted(NAMES)
