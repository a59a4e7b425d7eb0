"""Sampling plans of ISO 2859-1:1999 (webapp/domain/aql.py): lookups, arrows, inputs, defect classes, decisions.

Every cell is checked against an independent copy of the tables in test_aql_source.py; here, the
behaviour around the cells.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from webapp.domain import aql
from webapp.domain.aql import AqlError, class_plans, decide, sampling_plan


@pytest.mark.parametrize(("lot_size", "printed", "level", "severity", "expected"), [
    # expected: code letter, plan letter, n, Ac, Re, inspect all
    (1000, "2.5", "II", "normal", ("J", "J", 80, 5, 6, False)),  # the plant's final inspection
    (500, "1.0", "II", "normal", ("H", "H", 50, 1, 2, False)),
    (3200, "0.65", "II", "normal", ("K", "K", 125, 2, 3, False)),
    (100, "1.5", "II", "normal", ("F", "G", 32, 1, 2, False)),  # ↓: G's plan, G's sample size
    (100, "1.0", "II", "normal", ("F", "E", 13, 0, 1, False)),  # ↑: E's plan, E's sample size
    (2000, "100", "II", "normal", ("K", "E", 13, 21, 22, False)),  # ↑ across six rows
    (100, "0.010", "II", "normal", ("F", "Q", 1250, 0, 1, True)),  # ↓ to Q, more than the lot
    (600000, "0.010", "III", "normal", ("R", "Q", 1250, 0, 1, False)),  # R's ↑ at the left edge
    (600000, "1000", "S-1", "normal", ("D", "B", 3, 44, 45, False)),
    (5, "1.0", "II", "normal", ("A", "E", 13, 0, 1, True)),  # n exceeds the lot: inspect all
    (2, "6.5", "II", "normal", ("A", "A", 2, 0, 1, True)),  # n equals the lot: inspect all
    (3, "6.5", "II", "normal", ("A", "A", 2, 0, 1, False)),
    (2, "10", "II", "normal", ("A", "C", 5, 1, 2, True)),  # row A has nothing above: its arrow points down
    (8, "6.5", "III", "normal", ("B", "A", 2, 0, 1, False)),
    (1000, "2.5", "S-4", "normal", ("F", "F", 20, 1, 2, False)),
    (1000, "2.5", "I", "normal", ("G", "G", 32, 2, 3, False)),
    (1000, "2.5", "III", "normal", ("K", "K", 125, 7, 8, False)),
    (2000, "2.5", "II", "tightened", ("K", "K", 125, 5, 6, False)),
    (2000, "6.5", "II", "tightened", ("K", "K", 125, 12, 13, False)),
    (1000, "2.5", "II", "tightened", ("J", "J", 80, 3, 4, False)),
    (5, "10", "II", "tightened", ("A", "D", 8, 1, 2, True)),  # tightened row A has no 0 1: ↓ to D
    (600000, "0.025", "III", "tightened", ("R", "S", 3150, 1, 2, False)),  # letter S, tightened only
    (200000, "0.025", "III", "tightened", ("Q", "S", 3150, 1, 2, False)),
    (600000, "0.015", "III", "tightened", ("R", "Q", 1250, 0, 1, False)),
    (600000, "0.010", "III", "tightened", ("R", "R", 2000, 0, 1, False)),
    (2000, "2.5", "II", "reduced", ("K", "K", 50, 3, 4, False)),  # Z1.4 printed 3 6
    (5000, "1.0", "II", "reduced", ("L", "L", 80, 2, 3, False)),  # Z1.4 printed 2 5
    (5000, "0.25", "II", "reduced", ("L", "L", 80, 0, 1, False)),  # Z1.4 printed 0 2
    (1000, "2.5", "II", "reduced", ("J", "J", 32, 2, 3, False)),
    (600000, "0.010", "III", "reduced", ("R", "Q", 500, 0, 1, False)),
])
def test_sampling_plan(lot_size, printed, level, severity, expected):
    plan = sampling_plan(lot_size, printed, level, severity)
    got = (plan.code_letter, plan.plan_letter, plan.sample_size, plan.accept, plan.reject, plan.inspect_all)
    assert got == expected
    assert (plan.aql, plan.level, plan.severity) == (printed, level, severity)


def test_defaults_are_level_ii_normal():
    assert sampling_plan(1000, "2.5") == sampling_plan(1000, "2.5", "II", "normal")


@pytest.mark.parametrize(("low", "high", "letter"), [
    (2, 8, "A"), (9, 15, "B"), (16, 25, "C"), (26, 50, "D"), (51, 90, "E"), (91, 150, "F"), (151, 280, "G"),
    (281, 500, "H"), (501, 1200, "J"), (1201, 3200, "K"), (3201, 10000, "L"), (10001, 35000, "M"),
    (35001, 150000, "N"), (150001, 500000, "P"), (500001, 10**9, "Q"),
])
def test_lot_size_ranges_at_their_edges(low, high, letter):
    assert aql.code_letter(low) == aql.code_letter(high) == letter
    if low > 2:
        assert aql.code_letter(low - 1) != letter


@pytest.mark.parametrize("severity", aql.SEVERITIES)
def test_every_plan_has_no_gap_and_grows_with_the_aql(severity):
    """Re = Ac + 1 in every cell (for reduced: ISO 2859-1:1999); a looser AQL never has a smaller Ac at one n."""
    for letter in "ABCDEFGHJKLMNPQR":
        by_size: dict[int, int] = {}
        for printed in aql.AQLS:
            _, n, ac, re_ = aql.plan_for_letter(letter, printed, severity)
            assert re_ == ac + 1, (letter, printed)
            assert ac >= by_size.get(n, 0), (letter, printed)
            by_size[n] = ac


def test_tightened_is_never_looser_than_normal_for_the_same_sample():
    for letter in "ABCDEFGHJKLMNPQR":
        for printed in aql.AQLS:
            _, n, ac, _ = aql.plan_for_letter(letter, printed, "normal")
            _, tn, tac, _ = aql.plan_for_letter(letter, printed, "tightened")
            assert tn > n or (tn == n and tac <= ac) or tn < n and tac < ac, (letter, printed)


@pytest.mark.parametrize("value", ["2.5", "2.50", " 2.5 ", "02.5", Decimal("2.5"), Decimal("2.50")])
def test_aql_is_compared_as_a_decimal(value):
    assert sampling_plan(1000, value).aql == "2.5"
    assert sampling_plan(1000, value) == sampling_plan(1000, "2.5")


@pytest.mark.parametrize(("value", "printed"), [
    ("0.01", "0.010"), ("0.0100", "0.010"), ("10", "10"), ("10.0", "10"), (10, "10"), (Decimal("1E+3"), "1000"),
    ("1", "1.0"), ("4", "4.0"), ("0.1", "0.10"),
])
def test_aql_is_reported_as_printed(value, printed):
    assert aql.normalise_aql(value) == printed


@pytest.mark.parametrize(("args", "code"), [
    ((1, "2.5"), "lot_size"),
    ((0, "2.5"), "lot_size"),
    ((-100, "2.5"), "lot_size"),
    ((100.0, "2.5"), "lot_size"),
    (("100", "2.5"), "lot_size"),
    ((True, "2.5"), "lot_size"),
    ((None, "2.5"), "lot_size"),
    ((1000, "3"), "aql"),
    ((1000, "0"), "aql"),  # 0 is a defect class's zero acceptance (class_plans), not a table's column
    ((1000, "2.4"), "aql"),
    ((1000, "abc"), "aql"),
    ((1000, ""), "aql"),
    ((1000, "2.5.1"), "aql"),
    ((1000, "-2.5"), "aql"),
    ((1000, "1e1"), "aql"),
    ((1000, "2,5"), "aql"),
    ((1000, 2.5), "aql"),  # a float is not trusted to be the printed decimal
    ((1000, None), "aql"),
    ((1000, Decimal("NaN")), "aql"),
    ((1000, "2.5", "ii"), "level"),
    ((1000, "2.5", "IV"), "level"),
    ((1000, "2.5", "S1"), "level"),
    ((1000, "2.5", "II", "Normal"), "severity"),
    ((1000, "2.5", "II", "discontinued"), "severity"),
    ((1, "3", "IV", "x"), "lot_size"),  # the lot size is checked first, then level, AQL, severity
    ((100, "3", "IV", "x"), "level"),
    ((100, "3", "II", "x"), "aql"),
])
def test_invalid_input_names_the_field(args, code):
    with pytest.raises(AqlError) as raised:
        sampling_plan(*args)
    assert raised.value.code == code
    assert isinstance(raised.value, ValueError) and str(raised.value)


def test_one_step_tighter():
    assert aql.one_step_tighter("2.5") == "1.5"
    assert aql.one_step_tighter("10") == "6.5"
    assert aql.one_step_tighter("0.010") is None


def test_tables_are_json_and_a_fresh_copy():
    data = aql.tables()
    assert json.loads(json.dumps(data)) == data
    assert data["aqls"] == list(aql.AQLS) and data["levels"] == list(aql.LEVELS)
    assert data["lot_sizes"][0] == [2, 8] and data["lot_sizes"][-1] == [500001, None]
    assert data["master"]["tightened"]["letters"][-1] == "S" and data["master"]["tightened"]["sample_sizes"][-1] == 3150
    assert data["master"]["normal"]["cells"][0][14] == [0, 1] and data["master"]["normal"]["cells"][1][14] == "up"
    assert data["master"]["tightened"]["cells"][-1][0] is None
    data["aqls"].clear()
    data["master"]["normal"]["cells"][0][14][0] = 99
    assert aql.tables()["aqls"] == list(aql.AQLS) and aql.tables()["master"]["normal"]["cells"][0][14] == [0, 1]


def test_accepts():
    plan = sampling_plan(1000, "2.5")
    assert plan.accepts(5) and not plan.accepts(6)


# --- defect classes ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("lot_size", "aqls", "expected"), [
    # expected per class: (aql, plan letter, n, Ac, Re)
    (1000, {"critical": "0", "major": "2.5", "minor": "4.0"},
     {"critical": ("0", "J", 80, 0, 1), "major": ("2.5", "J", 80, 5, 6), "minor": ("4.0", "J", 80, 7, 8)}),
    (100, {"critical": None, "major": "1.5", "minor": "6.5"},  # the largest sample is major's (↓ to G)
     {"critical": ("0", "G", 32, 0, 1), "major": ("1.5", "G", 32, 1, 2), "minor": ("6.5", "F", 20, 3, 4)}),
    (100, {"major": "2.50", "critical": Decimal("0.0")},
     {"major": ("2.5", "F", 20, 1, 2), "critical": ("0", "F", 20, 0, 1)}),
    (1000, {"major": "2.5"}, {"major": ("2.5", "J", 80, 5, 6)}),
])
def test_class_plans(lot_size, aqls, expected):
    plans = class_plans(lot_size, aqls)
    assert list(plans) == list(expected)
    assert {name: (p.aql, p.plan_letter, p.sample_size, p.accept, p.reject) for name, p in plans.items()} == expected
    assert {p.code_letter for p in plans.values()} == {aql.code_letter(lot_size)}


def test_a_zero_class_inherits_inspect_all():
    plans = class_plans(5, {"critical": "0", "major": "1.0"})
    assert plans["critical"].inspect_all and plans["critical"].sample_size == 13


def test_with_no_aql_above_zero_there_is_no_sample_size():
    assert class_plans(1000, {"critical": "0", "major": None}) == {"critical": None, "major": None}
    assert decide({"critical": None}, {"critical": 1})["lot"] == "rejected"
    assert decide({"critical": None}, {})["lot"] == "accepted"


@pytest.mark.parametrize(("args", "code", "mentions"), [
    ((1000, {"critical": "0", "major": "3"}), "aql", "major"),
    ((1000, {"major": "x"}), "aql", "major"),
    ((1, {"critical": "0"}), "lot_size", ""),  # checked even when no class needs a table
    ((1000, {"critical": "0"}, "IV"), "level", ""),
    ((1000, {"critical": "0"}, "II", "strict"), "severity", ""),
])
def test_class_plans_invalid(args, code, mentions):
    with pytest.raises(AqlError) as raised:
        class_plans(*args)
    assert raised.value.code == code and mentions in str(raised.value)


PLANS = class_plans(1000, {"critical": "0", "major": "2.5", "minor": "4.0"})  # J: 0/1, 5/6, 7/8


@pytest.mark.parametrize(("found", "lot", "rejected"), [
    ({}, "accepted", []),
    ({"critical": 0, "major": 5, "minor": 7}, "accepted", []),  # at Ac: accepted
    ({"major": 6}, "rejected", ["major"]),  # at Re: rejected
    ({"minor": 8}, "rejected", ["minor"]),
    ({"critical": 1}, "rejected", ["critical"]),  # any critical defect rejects the lot
    ({"critical": 1, "major": 9, "minor": 2}, "rejected", ["critical", "major"]),
])
def test_decide(found, lot, rejected):
    decision = decide(PLANS, found)
    assert decision["lot"] == lot and decision["accepted"] == (lot == "accepted")
    assert decision["rejected_classes"] == rejected
    assert set(decision["classes"]) == {"critical", "major", "minor"}
    for name, result in decision["classes"].items():
        assert result["found"] == found.get(name, 0)
        assert (result["accept"], result["reject"]) == (PLANS[name].accept, PLANS[name].reject)
        assert result["decision"] == ("rejected" if name in rejected else "accepted")
        assert result["accepted"] == (name not in rejected)


@pytest.mark.parametrize("found", [{"cosmetic": 1}, {"major": -1}, {"major": 1.0}, {"major": "1"}, {"major": True},
                                   {"major": None}])
def test_decide_invalid_counts(found):
    with pytest.raises(AqlError) as raised:
        decide(PLANS, found)
    assert raised.value.code == "found"
