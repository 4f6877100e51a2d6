"""The commit offset never passes a message that is still unacknowledged."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from intervaltree import IntervalTree

from streams.faust_fixes import new_offset

TP = ("iot.anon.x", 0)


@dataclass(frozen=True)
class _Msg:
    tp: Any
    offset: int


@dataclass
class _Consumer:
    acked: list[int]
    committed: int | None
    unacked: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._acked = {TP: list(self.acked)}
        self._acked_index = defaultdict(set, {TP: set(self.acked)})
        self._committed_offset = defaultdict(lambda: None, {TP: self.committed})
        self._unacked_messages = {_Msg(TP, o) for o in self.unacked}
        self._gap = defaultdict(IntervalTree)


@pytest.mark.parametrize(
    ("acked", "committed", "unacked", "expected"),
    [
        pytest.param([0, 1, 2], None, [], 3, id="first commit, all acked"),
        pytest.param([1, 2, 3], None, [0], None, id="first commit, head held (faust: 4)"),
        pytest.param([1, 2, 3], 0, [0], None, id="committed 0, head held (faust: 4)"),
        pytest.param([201, 202], 200, [200], None, id="one past committed held (faust: 203)"),
        pytest.param([200, 201, 203], 200, [202], 202, id="stops at the first gap"),
        pytest.param([0, 1, 2, 3, 4], None, [3], 3, id="stops below a held message"),
        pytest.param([5, 6], 7, [], 7, id="already committed"),
    ],
)
def test_when_offsets_are_acked_then_commit_stops_at_the_first_unacked(
    acked: list[int], committed: int | None, unacked: list[int], expected: int | None
) -> None:
    result = new_offset(_Consumer(acked, committed, unacked), TP)
    assert result == expected


def test_when_a_commit_is_computed_then_committed_offsets_leave_the_acked_list() -> None:
    consumer = _Consumer([0, 1, 2, 5], None, [3])
    assert new_offset(consumer, TP) == 3
    assert consumer._acked[TP] == [5]
    assert consumer._acked_index[TP] == {5}


def test_when_offsets_have_no_message_then_the_gap_counts_as_acked() -> None:
    consumer = _Consumer([10, 13], 10, [])
    consumer._gap[TP].addi(11, 13)  # 11 and 12 were compacted away
    assert new_offset(consumer, TP) == 14
