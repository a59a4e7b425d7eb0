"""Moving a bin: the bin follows the log; `location_conflict` and `negative_stock` are decided from it."""

from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest

from webapp.domain.moving import HeldCount, MoveFact, fold_moves, held_before, judge_move

T = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
MS = int(T.timestamp() * 1000)


def move(minute: int, to: str, seen: str | None, device: str = "a", seq: int = 1, quantity: int | None = None,
         event_id: str | None = None) -> MoveFact:
    return MoveFact((MS + minute * 60_000, device, seq), event_id or f"{device}{seq}", to, seen, quantity,
                    T + timedelta(minutes=minute))


@pytest.mark.parametrize("seen,logged,conflict", [
    ("OP10", "OP10", False),
    ("OP10", "OP20", True),
    (None, None, False),  # a bin never placed, and the device knew it
    (None, "OP10", True),  # the device did not know where the bin was
    ("OP10", None, True),
])
def test_a_move_conflicts_when_the_device_saw_the_bin_elsewhere(seen, logged, conflict):
    assert judge_move(move(0, "OP30", seen), logged, None, None).location_conflict is conflict


@pytest.mark.parametrize("quantity,held,short", [
    (None, 50, False),  # the whole bin moves
    (50, 50, False),
    (51, 50, True),
    (0, 0, False),
    (10, None, False),  # nothing says what the bin holds
])
def test_negative_stock_is_moving_more_than_the_bin_held(quantity, held, short):
    assert judge_move(move(0, "OP20", "OP10", quantity=quantity), "OP10", None, held).negative_stock is short


def test_the_bin_follows_the_last_move_in_the_log_whatever_the_arrival_order():
    moves = [move(5, "OP20", "OP10", "a", 1), move(9, "WAIT", "OP10", "b", 1), move(2, "OP15", "OP10", "c", 1)]
    results = set()
    for arrival in permutations(moves):
        folded = fold_moves(list(arrival), "OP10")
        results.add((folded.location, folded.since,
                     tuple((v.event_id, v.from_location, v.location_conflict) for v in folded.verdicts)))
    assert len(results) == 1
    [(location, since, verdicts)] = results
    assert location == "WAIT" and since == T + timedelta(minutes=9)
    # c (minute 2) saw the start; a and b saw the start too, but the log had moved the bin by then
    assert verdicts == (("c1", "OP10", False), ("a1", "OP15", True), ("b1", "OP20", True))


def test_ties_in_time_are_broken_by_device_then_seq():
    first, second = move(0, "OP20", "OP10", "a", 7), move(0, "OP30", "OP20", "b", 1)
    folded = fold_moves([second, first], "OP10")
    assert [v.event_id for v in folded.verdicts] == ["a7", "b1"] and folded.location == "OP30"
    assert not any(v.location_conflict for v in folded.verdicts)


def test_no_moves_leave_the_bin_where_it_started():
    folded = fold_moves([], "OP10")
    assert (folded.location, folded.since, folded.verdicts) == ("OP10", None, [])


@pytest.mark.parametrize("counts,expected", [
    ([], 50),  # no count before the move: the fallback
    ([HeldCount((MS - 60_000, "a", 1), 40)], 40),
    ([HeldCount((MS - 60_000, "a", 1), 40), HeldCount((MS - 30_000, "b", 4), 44)], 44),
    ([HeldCount((MS + 60_000, "a", 2), 30)], 50),  # later in the log: not yet
    ([HeldCount((MS, "a", 0), 41)], 41),  # same time, earlier seq: before
])
def test_what_the_bin_held_is_the_last_settling_count_before_the_move(counts, expected):
    assert held_before((MS, "a", 1), counts, 50) == expected


def test_each_move_is_weighed_against_the_counts_before_it():
    counts = [HeldCount((MS + 60_000, "a", 1), 30)]
    folded = fold_moves([move(0, "OP20", "OP10", quantity=40), move(2, "OP30", "OP20", seq=2, quantity=40)],
                        "OP10", counts, 50)
    assert [(v.held, v.negative_stock) for v in folded.verdicts] == [(50, False), (30, True)]
