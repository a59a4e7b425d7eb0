"""Sequence arithmetic: the acknowledged run and the gaps a device must fill."""

import pytest

from sync.seq import MAX_MISSING_REPORTED, advance_ack, missing_seqs
from tests.bounded import memory_headroom


@pytest.mark.parametrize("acked,held,expected", [
    (0, [], 0),
    (0, [1, 2, 3], 3),
    (0, [2, 3], 0),
    (3, [4, 6], 4),
    (3, [1, 2, 3], 3),  # already acknowledged seqs change nothing
    (0, [3, 1, 2, 5], 3),
])
def test_ack_advances_over_the_unbroken_run(acked, held, expected):
    assert advance_ack(acked, held) == expected


@pytest.mark.parametrize("acked,held,expected", [
    (0, [], []),
    (0, [1, 2], []),
    (0, [2, 5], [1, 3, 4]),
    (4, [6, 9], [5, 7, 8]),
    (4, [1, 2], []),
])
def test_missing_seqs_are_the_gaps_below_the_highest_held(acked, held, expected):
    assert missing_seqs(acked, held) == expected


def test_missing_seqs_are_bounded():
    assert len(missing_seqs(0, [100_000])) == 200


@pytest.mark.parametrize("acked,held,expected", [
    (0, [3, 7, 4], [1, 2, 5, 6]),  # held seqs in any order
    (0, [2, 2, 4], [1, 3]),  # and repeated
    (0, [199, 250], list(range(1, 199)) + [200, 201]),  # a run of gaps is cut where 200 are listed
    (10, [5, 12, 500], [11] + list(range(13, 212))),
])
def test_missing_seqs_are_the_lowest_gaps_first(acked, held, expected):
    assert missing_seqs(acked, held) == expected


@pytest.mark.parametrize("top", [3_000_000, 2**53 - 1, 2**63 - 1])
def test_a_huge_seq_costs_what_is_held_not_the_size_of_its_gap(top):
    # Before the fix: a list of every seq below `top`, then cut to 200 (a push of 2^63-1 ran a worker out
    # of memory). Under the bound the old code fails with MemoryError in well under a second.
    held = [1, 2, 5, top - 1, top]
    with memory_headroom(256):
        gaps = missing_seqs(2, held)
        acked = advance_ack(0, held)
    assert gaps == [3, 4] + list(range(6, 6 + MAX_MISSING_REPORTED - 2))
    assert acked == 2
