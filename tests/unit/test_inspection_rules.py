"""The plant's inspection rules (webapp/domain/inspections.py): reports per order, when they are due, the
final's 80%, tolerances, and an inspection folded from its log in log order."""

from datetime import date

import pytest

from webapp.domain import aql
from webapp.domain import inspections as rules
from webapp.domain.inspections import Entry, fold_inspection


@pytest.mark.parametrize(("quantity", "reports"), [
    (1, 2), (999, 2),  # under 1,000: 2
    (1000, 4), (3000, 4),  # 1,000-3,000: 4
    (3001, 6), (5000, 6),  # 3,000-5,000: 6
    (5001, 8), (10000, 8),  # 5,000-10,000: 8
    (10001, 10), (15000, 10), (15001, 12), (40000, 20),  # our rule: 2 more per 5,000 or part of them
])
def test_minimum_mid_production_reports(quantity, reports):
    assert rules.mid_reports_required(quantity) == reports


def test_the_report_table_is_a_setting():
    table, above = rules.parse_mid_reports("500:1,2000:3;1000:1")
    assert rules.mid_reports_required(400, table, above) == 1
    assert rules.mid_reports_required(2000, table, above) == 3
    assert rules.mid_reports_required(3500, table, above) == 5
    for bad in ("", "x", "1000:2,500:1", "1000:-1", "1000:2;0:1"):
        with pytest.raises(ValueError):
            rules.parse_mid_reports(bad)


def test_working_days_skip_sundays():
    saturday = date(2026, 12, 5)
    assert rules.add_working_days(saturday, 1) == date(2026, 12, 7)  # Monday
    assert rules.add_working_days(saturday, 6) == date(2026, 12, 12)


@pytest.mark.parametrize(("signed", "packed", "today", "behind", "reasons"), [
    ([], 0, date(2026, 12, 3), False, ()),  # first piece passed Tuesday 1st: 3 working days not yet over 6
    ([], 0, date(2026, 12, 9), True, ("overdue",)),  # 6 working days after 1 Dec is the 7th: the 9th is late
    ([date(2026, 12, 7)], 0, date(2026, 12, 9), False, ()),
    ([date(2026, 12, 7)], 400, date(2026, 12, 9), False, ()),  # 4 × 400/1500 = 1.07: 1 is enough so far
    ([date(2026, 12, 7)], 800, date(2026, 12, 9), True, ("too_few_for_packed",)),  # 4 × 800/1500 = 2.13: 2 due
    ([date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 9)], 1200, date(2026, 12, 9), True, ("too_few_at_final",)),
])
def test_an_order_behind_on_its_mid_production_reports(signed, packed, today, behind, reasons):
    status = rules.mid_status(1500, packed, signed, date(2026, 12, 1), today)
    assert status.required == 4
    assert (status.behind, status.reasons) == (behind, reasons)


def test_the_final_is_offered_at_80_percent_packed():
    assert not rules.final_offered(800, 639)
    assert rules.final_offered(800, 640)
    assert not rules.final_offered(0, 0)


ITEMS = [
    {"key": "length", "type": "measure", "nominal": "420.0", "minus": "0.5", "plus": "0.3"},
    {"key": "look", "type": "check"},
]


@pytest.mark.parametrize(("key", "value", "good"), [
    ("length", "419.5", True), ("length", "419.49", False), ("length", "420.3", True), ("length", "420.31", False),
    ("length", "abc", None), ("look", "pass", True), ("look", "fail", False), ("look", "maybe", None),
])
def test_tolerance(key, value, good):
    item = next(i for i in ITEMS if i["key"] == key)
    assert rules.within(item, value) is good


def e(at, kind, payload, event_id=None, device="d1", seq=None):
    return Entry((at, device, seq if seq is not None else at), event_id or f"{kind}-{at}", kind, 7, "inspector",
                 payload, "device_user")


def test_the_log_order_decides_whatever_the_arrival_order():
    log = [
        e(30, "measured", {"unit": 1, "values": {"length": "421.0"}}),
        e(20, "measured", {"unit": 1, "values": {"length": "420.0", "look": "pass"}}),
        e(10, "started", {"kind": "first_piece"}),
    ]
    f = fold_inspection(log, ITEMS)
    assert f.results == {"length": {"1": "421.0"}, "look": {"1": "pass"}}  # the later value replaces
    assert f.out_of_tolerance == [("length", 1, "421.0")]
    assert f.status == "open" and f.flags == {}


def test_records_before_the_start_and_after_the_verdict_are_flagged():
    log = [
        e(5, "measured", {"unit": 1, "values": {"look": "pass"}}, "early"),
        e(10, "started", {"kind": "mid_production"}),
        e(20, "completed", {"verdict": "pass"}, "done"),
        e(30, "defect", {"defect_id": "x", "class": "minor", "count": 1}, "late"),
    ]
    f = fold_inspection(log, ITEMS)
    assert f.flags == {"early": [("unknown_inspection", {})],
                       "late": [("after_completion", {"completed_event_id": "done"})]}
    assert f.found == {"critical": 0, "major": 0, "minor": 1} and f.status == "passed"


def test_a_sampled_lot_follows_its_plan_not_the_verdict():
    plans = aql.class_plans(700, {"critical": "0", "major": "2.5", "minor": "4.0"}, "II", "normal")
    log = [e(10, "started", {"kind": "final"}),
           e(20, "defect", {"defect_id": "a", "class": "major", "count": 4}),
           e(21, "defect", {"defect_id": "a", "class": "major", "count": 6}),  # the same defect, recounted
           e(30, "completed", {"verdict": "pass"}, "done")]
    f = fold_inspection(log, [], plans)
    assert f.found["major"] == 6 and f.decision == "rejected" and f.status == "failed"
    assert f.flags == {"done": [("verdict_disagrees", {"verdict": "pass", "decision": "rejected",
                                                       "found": {"critical": 0, "major": 6, "minor": 0}})]}


def test_a_pass_with_measurements_out_of_tolerance_is_flagged_and_restarts_too():
    log = [e(10, "started", {"kind": "first_piece"}, "s1"), e(11, "started", {"kind": "first_piece"}, "s2"),
           e(20, "measured", {"unit": 2, "values": {"length": "419.0"}}),
           e(30, "completed", {"verdict": "pass"}, "done")]
    f = fold_inspection(log, ITEMS)
    assert f.flags == {"s2": [("restarted", {"first_event_id": "s1"})],
                       "done": [("passed_out_of_tolerance", {"items": ["length"]})]}


def test_cosigners_and_focus_points():
    log = [e(10, "started", {"kind": "first_piece"}), e(20, "measured", {"unit": 1, "values": {"length": "419.0"}}),
           e(25, "defect", {"defect_id": "b", "class": "minor", "count": 1, "type": "D-BURR"}),
           e(30, "completed", {"verdict": "fail"})]
    f = fold_inspection(log, [{**ITEMS[0], "label_zh": "总长", "label_en": "Length"}])
    assert rules.cosigners_missing("first_piece", f.signatures) == ["operator"]
    assert rules.cosigners_missing("final", f.signatures) == []
    points = rules.focus_points([{**ITEMS[0], "label_zh": "总长", "label_en": "Length"}], f, {"D-BURR": "毛刺"})
    assert [(p["item"], p["type"], p["text_en"]) for p in points] == [("length", None, "Length"),
                                                                       (None, "D-BURR", "毛刺")]
