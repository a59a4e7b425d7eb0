"""Sequence arithmetic: the acknowledged run and the gaps a device must fill."""

import pytest

from sync.seq import advance_ack, missing_seqs


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
