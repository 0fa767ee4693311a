"""Which post-commit signals wake a subscription's pull (decision 0052)."""

from __future__ import annotations

import pytest

from adapters.jetstream.subscription import _read_already


@pytest.mark.parametrize(
    ("payload", "last_read", "read"),
    [
        (b"7", 7, True),  # the batch ending at the last notification read
        (b"5", 7, True),
        (b"8", 7, False),  # a later batch
        (b"7", None, False),  # nothing read yet
        (b"", 7, False),  # a signal without a sequence: always pull
        (b"x", 7, False),
    ],
)
def test_a_signal_wakes_the_pull_unless_its_batch_was_read(
    payload: bytes, last_read: int | None, read: bool
) -> None:
    assert _read_already(payload, last_read) is read
