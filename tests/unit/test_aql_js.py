"""The device's sampling plans (webapp/static/js/offline/aql.js) are webapp/domain/aql.py's, offline.

Node runs aql.js on the tables aql.tables() sends to devices, for every lot size row (both ends),
inspection level, AQL and severity, for defect classes, decisions and wrong input; Python answers the
same questions and the answers must agree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from webapp.domain import aql

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "webapp" / "static" / "js" / "offline" / "aql.js"
# Reads {"module", "tables", "calls": [[function, args, with_tables]]} on stdin, answers one result per call.
RUNNER = """
import { readFileSync } from "node:fs";
const input = JSON.parse(readFileSync(0, "utf8"));
const aql = await import(input.module);
const answers = input.calls.map(([name, args, withTables]) => {
  try {
    return { ok: withTables ? aql[name](input.tables, ...args) : aql[name](...args) };
  } catch (error) {
    return { error: error.code ?? null, name: error.name, message: String(error.message) };
  }
});
process.stdout.write(JSON.stringify(answers));
"""
LOT_SIZES = [size for low, high in aql.tables()["lot_sizes"] for size in (low, high or 10**7)]


def run_js(calls: list[tuple[str, list[Any], bool]]) -> list[dict[str, Any]]:
    """Answer the calls with aql.js in Node."""
    if shutil.which("node") is None:
        pytest.fail("the device's sampling plans are checked with node: apt-get install -y nodejs", pytrace=False)
    done = subprocess.run(["node", "--input-type=module", "-e", RUNNER], capture_output=True, text=True, timeout=120,
                          input=json.dumps({"module": MODULE.as_uri(), "tables": aql.tables(), "calls": calls}))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def as_js(plan: aql.SamplingPlan | None) -> dict[str, Any] | None:
    """A Python plan as aql.js spells it."""
    if plan is None:
        return None
    return {"aql": plan.aql, "level": plan.level, "severity": plan.severity, "codeLetter": plan.code_letter,
            "planLetter": plan.plan_letter, "sampleSize": plan.sample_size, "accept": plan.accept,
            "reject": plan.reject, "inspectAll": plan.inspect_all}


def python_answer(function, *args) -> dict[str, Any]:
    try:
        return {"ok": function(*args)}
    except aql.AqlError as error:
        return {"error": error.code}


def test_every_lot_size_row_level_aql_and_severity():
    questions = [(size, printed, level, severity) for size in LOT_SIZES for level in aql.LEVELS
                 for printed in aql.AQLS for severity in aql.SEVERITIES]
    answers = run_js([("samplingPlan", list(question), True) for question in questions])
    assert len(answers) == len(questions) == 30 * 7 * 26 * 3
    for question, answer in zip(questions, answers, strict=True):
        assert answer == {"ok": as_js(aql.sampling_plan(*question))}, question


@pytest.mark.parametrize(("js_aql", "python_aql"), [
    ("2.50", "2.5"), (" 2.5 ", "2.5"), ("0.01", "0.010"), ("10.0", "10"), ("1", "1.0"), (2.5, "2.5"), (0.065, "0.065"),
    (10, "10"), (1000, "1000"),
])
def test_aql_written_otherwise(js_aql, python_aql):
    """JavaScript has no Decimal: it takes numbers too (the shortest decimal that prints them)."""
    (answer,) = run_js([("samplingPlan", [1000, js_aql, "II", "normal"], True)])
    assert answer == {"ok": as_js(aql.sampling_plan(1000, Decimal(python_aql)))}


CLASS_CASES = [
    (1000, {"critical": "0", "major": "2.5", "minor": "4.0"}, "II", "normal"),
    (100, {"critical": None, "major": "1.5", "minor": "6.5"}, "II", "normal"),
    (100, {"major": "2.50", "critical": "0.0"}, "III", "tightened"),
    (5, {"critical": "0", "major": "1.0"}, "II", "reduced"),
    (1000, {"critical": "0", "major": None}, "II", "normal"),
    (1000, {}, "II", "normal"),
    (600000, {"critical": "0", "major": "0.025", "minor": "0.065"}, "III", "tightened"),
]


@pytest.mark.parametrize("case", CLASS_CASES, ids=range(len(CLASS_CASES)))
def test_class_plans(case):
    (answer,) = run_js([("classPlans", list(case), True)])
    assert answer == {"ok": {name: as_js(plan) for name, plan in aql.class_plans(*case).items()}}


DECIDE_CASES = [
    (CLASS_CASES[0], {}),
    (CLASS_CASES[0], {"critical": 0, "major": 5, "minor": 7}),
    (CLASS_CASES[0], {"major": 6}),
    (CLASS_CASES[0], {"critical": 1, "major": 9, "minor": 2}),
    (CLASS_CASES[4], {"critical": 1}),
    (CLASS_CASES[4], {}),
]


@pytest.mark.parametrize(("case", "found"), DECIDE_CASES, ids=range(len(DECIDE_CASES)))
def test_decide(case, found):
    plans = aql.class_plans(*case)
    (answer,) = run_js([("decide", [{name: as_js(plan) for name, plan in plans.items()}, found], False)])
    expected = aql.decide(plans, found)
    expected["rejectedClasses"] = expected.pop("rejected_classes")
    assert answer == {"ok": expected}


ERROR_CASES = [
    ("samplingPlan", [1, "2.5"]), ("samplingPlan", [0, "2.5"]), ("samplingPlan", [-100, "2.5"]),
    ("samplingPlan", [100.5, "2.5"]), ("samplingPlan", ["100", "2.5"]), ("samplingPlan", [True, "2.5"]),
    ("samplingPlan", [None, "2.5"]),
    ("samplingPlan", [1000, "3"]), ("samplingPlan", [1000, "0"]), ("samplingPlan", [1000, "2.4"]),
    ("samplingPlan", [1000, "abc"]), ("samplingPlan", [1000, ""]), ("samplingPlan", [1000, "2.5.1"]),
    ("samplingPlan", [1000, "-2.5"]), ("samplingPlan", [1000, "1e1"]), ("samplingPlan", [1000, "2,5"]),
    ("samplingPlan", [1000, None]), ("samplingPlan", [1000, 3]),
    ("samplingPlan", [1000, "2.5", "ii"]), ("samplingPlan", [1000, "2.5", "IV"]), ("samplingPlan", [1000, "2.5", None]),
    ("samplingPlan", [1000, "2.5", "II", "Normal"]), ("samplingPlan", [1000, "2.5", "II", "discontinued"]),
    ("samplingPlan", [1, "3", "IV", "x"]), ("samplingPlan", [100, "3", "IV", "x"]),
    ("samplingPlan", [100, "3", "II", "x"]),
    ("classPlans", [1000, {"critical": "0", "major": "3"}]), ("classPlans", [1000, {"major": "x"}]),
    ("classPlans", [1, {"critical": "0"}]), ("classPlans", [1000, {"critical": "0"}, "IV"]),
    ("classPlans", [1000, {"critical": "0"}, "II", "strict"]),
]


def test_errors_name_the_same_field():
    answers = run_js([(name, args, True) for name, args in ERROR_CASES])
    python = {"samplingPlan": aql.sampling_plan, "classPlans": aql.class_plans}
    for (name, args), answer in zip(ERROR_CASES, answers, strict=True):
        expected = python_answer(python[name], *args)
        assert "error" in expected, (name, args)
        assert answer["error"] == expected["error"] and answer["name"] == "AqlError", (name, args, answer)
        assert answer["message"]


@pytest.mark.parametrize("found", [{"cosmetic": 1}, {"major": -1}, {"major": 1.5}, {"major": "1"}, {"major": True},
                                   {"major": None}])
def test_decide_errors(found):
    plans = aql.class_plans(*CLASS_CASES[0])
    (answer,) = run_js([("decide", [{name: as_js(plan) for name, plan in plans.items()}, found], False)])
    assert python_answer(aql.decide, plans, found) == {"error": "found"}
    assert answer["error"] == "found" and answer["name"] == "AqlError"
