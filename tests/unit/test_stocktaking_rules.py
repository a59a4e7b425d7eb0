"""The stocktake's rules (webapp/domain/stocktaking.py): variance, last count in log order, progress,
proposed adjustments, which counts belong, and the adjustments an approval may carry."""

import pytest

from webapp.domain.stocktaking import (
    Line, belongs, clean_adjustments, last_counts, may_approve, may_close, progress, proposed_adjustments, variance,
)


def order(t: int, device: str = "d1", seq: int = 1) -> tuple[int, str, int]:
    return (t, device, seq)


@pytest.mark.parametrize("counted, expected", [
    ([], {}),
    ([("A", 5, order(1))], {"A": 5}),
    # The last in log order wins, whatever order the counts arrive in.
    ([("A", 5, order(2)), ("A", 7, order(1))], {"A": 5}),
    ([("A", 7, order(1)), ("A", 5, order(2))], {"A": 5}),
    # Same time: the device id, then the seq decide.
    ([("A", 1, order(1, "d2", 1)), ("A", 2, order(1, "d1", 9))], {"A": 1}),
    ([("A", 1, order(1, "d1", 3)), ("A", 2, order(1, "d1", 4))], {"A": 2}),
    ([("A", 1, order(1)), ("B", 2, order(1, seq=2))], {"A": 1, "B": 2}),
])
def test_last_count_per_bin_in_log_order(counted, expected):
    assert last_counts(counted) == expected


@pytest.mark.parametrize("expected, counted, kinds", [
    ([], [], {}),
    ([("A", 10)], [], {"A": "missing"}),
    ([], [("A", 10, order(1))], {"A": "unexpected"}),
    ([("A", 10)], [("A", 10, order(1))], {"A": "match"}),
    ([("A", 10)], [("A", 9, order(1))], {"A": "difference"}),
    # A bin expected without a known quantity: whatever is counted differs from "not known".
    ([("A", None)], [("A", 0, order(1))], {"A": "difference"}),
    # A recount that agrees with the book after one that did not: the last count is what was found.
    ([("A", 10)], [("A", 9, order(1)), ("A", 10, order(2))], {"A": "match"}),
    ([("A", 10), ("B", 5), ("C", 1)], [("B", 6, order(1)), ("D", 3, order(2)), ("A", 10, order(3))],
     {"A": "match", "B": "difference", "C": "missing", "D": "unexpected"}),
])
def test_variance_sorts_every_bin_into_one_kind(expected, counted, kinds):
    report = variance(expected, counted)
    assert {line.code: line.kind for line in report.lines} == kinds
    assert [line.code for line in report.lines] == sorted(kinds)  # in code order
    for kind in ("missing", "unexpected", "difference", "match"):
        assert [line.code for line in report.of(kind)] == [code for code, k in sorted(kinds.items()) if k == kind]


@pytest.mark.parametrize("line, delta", [
    (Line("A", True, 10, 7), -3),
    (Line("A", True, 10, 12), 2),
    (Line("A", True, 10, None), None),
    (Line("A", False, None, 4), None),
    (Line("A", True, None, 4), None),
])
def test_the_difference_is_counted_minus_book(line, delta):
    assert line.delta == delta


@pytest.mark.parametrize("expected, counted, done, of, extra, complete", [
    ([], [], 0, 0, 0, True),
    (["A", "B"], [], 0, 2, 0, False),
    (["A", "B"], ["A"], 1, 2, 0, False),
    (["A", "B"], ["B", "A"], 2, 2, 0, True),
    (["A", "B"], ["A", "C"], 1, 2, 1, False),
    (["A"], ["A", "A"], 1, 1, 0, True),  # a bin counted twice is one bin done
])
def test_progress_counts_bins_on_the_list_and_apart_the_others(expected, counted, done, of, extra, complete):
    found = progress(expected, counted)
    assert (found.done, found.expected, found.unexpected, found.complete) == (done, of, extra, complete)


def test_proposed_adjustments_follow_the_count_and_leave_missing_bins_to_the_office():
    report = variance([("A", 10), ("B", 5), ("C", 1)], [("B", 6, order(1)), ("D", 3, order(2)), ("A", 10, order(3))])
    assert proposed_adjustments(report) == [("B", 6), ("D", 3)]


@pytest.mark.parametrize("status, count, closed_by, expected", [
    ("open", (5, "d1", 1), None, True),
    ("closed", (5, "d1", 1), (6, "d2", 1), True),  # reached the server before the close
    ("closed", (7, "d1", 1), (6, "d2", 1), False),
    ("closed", (6, "d2", 2), (6, "d2", 1), False),  # same push, after the close
    ("closed", (6, "d2", 1), (6, "d2", 2), True),  # same push, before it
    ("approved", (5, "d1", 1), (6, "d2", 1), True),
    ("closed", (5, "d1", 1), None, False),
])
def test_a_count_belongs_when_it_reached_the_server_before_the_close(status, count, closed_by, expected):
    assert belongs(status, count, closed_by) is expected


@pytest.mark.parametrize("status, close, approve", [
    ("open", True, False), ("closed", False, True), ("approved", False, False), (None, False, False),
])
def test_what_each_status_allows(status, close, approve):
    assert (may_close(status), may_approve(status)) == (close, approve)


@pytest.mark.parametrize("value, cleaned", [
    ([], []),
    ([{"bin_code": " b00001z ", "quantity": 0}], [{"bin_code": "B00001Z", "quantity": 0}]),
    ([{"bin_code": "A", "quantity": 1_000_000}, {"bin_code": "B", "quantity": 3}],
     [{"bin_code": "A", "quantity": 1_000_000}, {"bin_code": "B", "quantity": 3}]),
])
def test_adjustments_are_cleaned(value, cleaned):
    assert clean_adjustments(value, 1_000_000) == cleaned


@pytest.mark.parametrize("value", [
    None, "A", {"bin_code": "A", "quantity": 1},
    [{"bin_code": "A"}],
    [{"bin_code": "A", "quantity": 1, "note": "x"}],
    [{"bin_code": "", "quantity": 1}],
    [{"bin_code": "A" * 41, "quantity": 1}],
    [{"bin_code": "A\x00", "quantity": 1}],
    [{"bin_code": "A\ud800", "quantity": 1}],
    [{"bin_code": 7, "quantity": 1}],
    [{"bin_code": "A", "quantity": -1}],
    [{"bin_code": "A", "quantity": 1_000_001}],
    [{"bin_code": "A", "quantity": True}],
    [{"bin_code": "A", "quantity": 1.5}],
    [{"bin_code": "A", "quantity": 1}, {"bin_code": "a", "quantity": 2}],  # one bin twice
    [{"bin_code": f"B{i}", "quantity": 1} for i in range(2001)],
])
def test_adjustments_that_are_refused(value):
    with pytest.raises(ValueError):
        clean_adjustments(value, 1_000_000)
