"""Switching rules of ISO 2859-1:1999 clause 9 (webapp/domain/switching.py), rule by rule.

A series is written as a string, one letter per lot in inspection order: A accepted, R not accepted,
a / r the same for a resubmitted lot (a re-inspection after rework), I an accepted lot that came
while production was irregular, S the first lot after a discontinuation, resumed. Lots are on plans
with Ac 0 or 1 unless a test says otherwise (the score then adds 2 per accepted lot).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from webapp.domain.switching import (
    LotResult,
    accepted_one_step_tighter,
    fold_series,
    lot_from_inspection,
)


def lots(series: str, **fields) -> list[LotResult]:
    """Build a series from its letters; ``fields`` apply to every lot (accept, accepted_tighter)."""
    return [LotResult(accepted=c in "AaIS", resubmitted=c in "ar", irregular=c == "I", resumed=c == "S",
                      uid=f"u{i}", label=f"L{i}", **fields) for i, c in enumerate(series, start=1)]


def severities(series: str, **options) -> str:
    """The severity after each lot, one letter each: N, T, R (reduced), D (discontinued)."""
    state = fold_series(lots(series), **options)
    return "".join({"normal": "N", "tightened": "T", "reduced": "R", "discontinued": "D"}[s.after]
                   for s in state.history)


@pytest.mark.parametrize(("series", "after"), [
    ("", ""),
    ("AAAAA", "NNNNN"),
    ("R", "N"),
    ("RR", "NT"),  # 2 of 2
    ("RAAAR", "NNNNT"),  # 2 of 5
    ("RAAAAR", "NNNNNN"),  # 6 apart: no window of 5 holds both
    ("ARAAAARAAR", "NNNNNNNNNT"),  # 7 and 10 are within 5
    ("RaAAAR", "NNNNNT"),  # a resubmitted lot is not one of the five: R A A A R on original inspection
    ("RrAAAR", "NNNNNT"),
    ("RaAAR", "NNNNT"),
    ("Rr", "NN"),  # the re-inspection's rejection does not count
])
def test_normal_to_tightened_on_two_of_five(series, after):
    assert severities(series) == after


def test_two_of_five_names_the_lots():
    state = fold_series(lots("ARAAR"))
    assert (state.severity, state.reason) == ("tightened", "two_of_five_rejected")
    assert state.reason_detail == {"lots": [2, 5], "uids": ["u2", "u5"], "labels": ["L2", "L5"], "window": 5}
    assert state.history[-1].reason == "two_of_five_rejected" and state.history[-1].inspected_under == "normal"
    assert [s.reason for s in state.history[:-1]] == [None] * 4


@pytest.mark.parametrize(("series", "after", "reason"), [
    ("RR" "AAAAA", "NT" "TTTTN", "five_accepted_on_tightened"),
    ("RR" "AAAARAAAAA", "NT" "TTTTTTTTTN", "five_accepted_on_tightened"),  # the run starts again after a rejection
    ("RR" "AAaAAA", "NT" "TTTTTN", "five_accepted_on_tightened"),  # a resubmitted lot neither counts nor breaks the run
    ("RR" "RRRRR", "NT" "TTTTD", "five_rejected_on_tightened"),
    ("RR" "RARARARAR", "NT" "TTTTTTTTD", "five_rejected_on_tightened"),  # cumulative, not consecutive
    ("RR" "RRRRr", "NT" "TTTTT", "two_of_five_rejected"),  # a re-inspection's rejection is not one of the five
    ("RR" "AAAAA" "RR", "NT" "TTTTN" "NT", "two_of_five_rejected"),  # normal again: a new window of five
])
def test_tightened(series, after, reason):
    assert severities(series) == after
    assert fold_series(lots(series)).reason == reason


def test_discontinued_and_resumed():
    assert severities("RR" "RRRRR" "AA") == "NT" "TTTTD" "DD"  # no inspection counts until the supplier improves
    state = fold_series(lots("RR" "RRRRR" "AA"))
    assert [s.counted for s in state.history[-2:]] == [False, False]
    assert [s.inspected_under for s in state.history[-2:]] == ["discontinued", "discontinued"]
    assert state.reason_detail["lots"] == [3, 4, 5, 6, 7]

    state = fold_series(lots("RR" "RRRRR" "SA"))  # the lot marked as the resumption is inspected on tightened
    assert severities("RR" "RRRRR" "SA") == "NT" "TTTTD" "TT"
    assert state.history[-2].inspected_under == "tightened" and state.history[-2].reason == "resumed"
    assert state.history[-2].counted

    state = fold_series(lots("RR" "RRRRR"), resumed=True)  # the series' setting: the next lot is on tightened
    assert (state.severity, state.reason) == ("tightened", "resumed")
    assert severities("RR" "RRRRR" "AAAAA", resumed=True) == "NT" "TTTTD" "TTTTN"


@pytest.mark.parametrize(("count", "score", "severity"), [
    (14, 28, "normal"),
    (15, 30, "reduced"),  # Ac 0 or 1: 2 per accepted lot
])
def test_score_with_small_acceptance_numbers(count, score, severity):
    state = fold_series(lots("A" * count, accept=1), approved_reduced=True)
    assert state.severity == severity
    assert state.history[-1].score == score
    if severity == "reduced":
        assert state.reason == "switching_score" and state.reason_detail["score"] == 30
        assert state.reason_detail["lot"] == 15 and state.history[-1].after == "reduced"


@pytest.mark.parametrize(("tighter", "scores"), [
    (True, [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]),  # Ac 2 or more: 3 when accepted one step tighter
    (False, [0] * 10),  # accepted, but not at the tighter AQL: reset
])
def test_score_with_larger_acceptance_numbers(tighter, scores):
    state = fold_series(lots("A" * 10, accept=5, accepted_tighter=tighter))
    assert [s.score for s in state.history] == scores
    assert state.severity == "normal"  # no approval: reduced is never entered, whatever the score
    assert fold_series(lots("A" * 10, accept=5, accepted_tighter=tighter), approved_reduced=True).severity == (
        "reduced" if tighter else "normal")


def test_score_resets_on_a_rejection_and_ignores_resubmitted_lots():
    state = fold_series(lots("AAAAR" "AAa", accept=1))
    assert [s.score for s in state.history] == [2, 4, 6, 8, 0, 2, 4, 4]


def test_score_restarts_with_each_normal_period():
    state = fold_series(lots("AR" "R" "AAAAA" "AAA", accept=1))
    assert [s.score for s in state.history] == [2, 0, 0, 0, 0, 0, 0, 0, 2, 4, 6]


def test_reduced_needs_steady_production():
    series = lots("A" * 14, accept=1) + lots("I", accept=1) + lots("A", accept=1)
    state = fold_series(series, approved_reduced=True)
    assert [s.after for s in state.history][-2:] == ["normal", "reduced"]  # not at the irregular lot, at the next
    assert state.history[-1].score == 32


@pytest.mark.parametrize(("series", "after", "reason"), [
    ("A" * 15 + "AAA", "N" * 14 + "R" + "RRR", "switching_score"),
    ("A" * 15 + "AR", "N" * 14 + "R" + "RN", "rejected_on_reduced"),
    ("A" * 15 + "Ar", "N" * 14 + "R" + "RR", "switching_score"),  # a re-inspection does not end reduced
    ("A" * 15 + "AI", "N" * 14 + "R" + "RN", "irregular_production"),
])
def test_reduced(series, after, reason):
    assert severities(series, approved_reduced=True) == after
    state = fold_series(lots(series, accept=1), approved_reduced=True)
    assert state.reason == reason
    if reason == "rejected_on_reduced":
        assert state.reason_detail == {"lot": 17, "uid": "u17", "label": "L17"} and state.score == 0


def test_production_irregular_now_ends_reduced():
    state = fold_series(lots("A" * 15, accept=1), approved_reduced=True, steady=False)
    assert (state.severity, state.reason, state.score) == ("normal", "irregular_production", 0)
    assert state.history[-1].after == "reduced"  # the lots were inspected as they were; the next one is normal


def test_after_reduced_normal_starts_afresh():
    state = fold_series(lots("A" * 15 + "R" + "R", accept=1), approved_reduced=True)
    assert state.severity == "normal"  # the rejection that ended reduced is not one of the new window's five
    assert fold_series(lots("A" * 15 + "R" + "RR", accept=1), approved_reduced=True).severity == "tightened"


def test_history_has_one_step_per_lot():
    state = fold_series(lots("ARrRAAAAA"))
    assert [s.position for s in state.history] == list(range(1, 10))
    assert [s.uid for s in state.history] == [f"u{i}" for i in range(1, 10)]
    assert [s.resubmitted for s in state.history] == [False, False, True] + [False] * 6
    assert [s.counted for s in state.history] == [True, True, False] + [True] * 6
    assert [s.inspected_under for s in state.history] == ["normal"] * 4 + ["tightened"] * 5
    assert [s.reason for s in state.history] == [None, None, None, "two_of_five_rejected", None, None, None, None,
                                                 "five_accepted_on_tightened"]
    assert (state.severity, state.reason, state.reason_detail["lots"]) == ("normal", "five_accepted_on_tightened",
                                                                           [5, 6, 7, 8, 9])


@pytest.mark.parametrize(("found", "expected"), [(0, True), (3, True), (4, False), (5, False)])
def test_accepted_one_step_tighter(found, expected):
    # 1000 at level II is J: 2.5 is 5 6 with n 80; one step tighter, 1.5, is 3 4 on the same 80 items
    assert accepted_one_step_tighter(1000, "II", "2.5", found) is expected


def test_accepted_one_step_tighter_in_the_row_of_the_plan_used():
    # 100 at II is F; 1.5 goes ↓ to G (n 32, 1 2); G at 1.0 is ↓ too, but only Ac >= 2 asks this question
    assert accepted_one_step_tighter(2000, "II", "100", 14) is True  # K ↑ E at 100: 21 22; E at 65: 14 15
    assert accepted_one_step_tighter(2000, "II", "100", 15) is False
    assert accepted_one_step_tighter(600000, "III", "0.010", 0) is False  # nothing tighter than 0.010


def _row(**fields):
    base = dict(uid="i1", decision="accepted", reinspects=None, severity="normal", found={}, plans={
        "critical": {"aql": "0", "plan_letter": "J", "sample_size": 80, "accept": 0, "reject": 1},
        "major": {"aql": "2.5", "plan_letter": "J", "sample_size": 80, "accept": 5, "reject": 6},
        "minor": {"aql": "4.0", "plan_letter": "J", "sample_size": 80, "accept": 7, "reject": 8}})
    return SimpleNamespace(**{**base, **fields})


@pytest.mark.parametrize(("fields", "expected"), [
    # expected: accepted, accept, accepted_tighter, resubmitted
    ({}, (True, 5, True, False)),
    ({"found": {"major": 3, "minor": 5}}, (True, 5, True, False)),  # 1.5 is 3 4, 2.5 is 5 6: both hold
    ({"found": {"major": 4}}, (True, 5, False, False)),  # accepted at 2.5, not at 1.5
    ({"found": {"minor": 6}}, (True, 5, False, False)),
    ({"decision": "rejected", "found": {"critical": 1}}, (False, 5, True, False)),
    ({"reinspects": "i0"}, (True, 5, True, True)),
    ({"severity": "tightened"}, (True, 5, False, False)),  # the score is for normal inspection only
    ({"plans": {"critical": None}}, (True, 0, False, False)),  # no AQL class: nothing to tighten
    ({"plans": None, "found": None}, (True, 0, False, False)),
])
def test_lot_from_inspection(fields, expected):
    lot = lot_from_inspection(_row(**fields))
    assert (lot.accepted, lot.accept, lot.accepted_tighter, lot.resubmitted) == expected
    assert lot.uid == lot.label == "i1"
