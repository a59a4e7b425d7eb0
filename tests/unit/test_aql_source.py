"""webapp/domain/aql.py agrees, cell by cell, with independently published copies of the tables.

The copies are kept verbatim in tests/data/aql/ (README.md there says where they come from):
AQLSchemes 1.7-2's R/AAZ14Single.R (MIL-STD-105E = ANSI/ASQ Z1.4: Table 1 and the normal, tightened
and reduced single sampling plans, arrows already followed) and, for Table 1, garment-aql-calculator
1.0.0. Both are read as they are published: the R file by evaluating the few R expressions it uses
(c, rep, array, cbind), the Python file by its syntax tree, never by importing or running them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from webapp.domain import aql

DATA = Path(__file__).resolve().parents[1] / "data" / "aql"
LOT_SIZE_ROWS = [(2, 8), (9, 15), (16, 25), (26, 50), (51, 90), (91, 150), (151, 280), (281, 500), (501, 1200),
                 (1201, 3200), (3201, 10000), (10001, 35000), (35001, 150000), (150001, 500000), (500001, None)]
_TOKEN = re.compile(r'\s*(?:(\d+)|"([^"]*)"|([A-Za-z_][\w.]*)|(\S))')


def _evaluate(expression: str, names: dict[str, list]) -> list:
    """Evaluate an R vector expression built of numbers, strings, names, c() and rep()."""
    tokens = _TOKEN.findall(expression)
    position = 0

    def value() -> list:
        nonlocal position
        number, string, name, _ = tokens[position]
        position += 1
        if number:
            return [int(number)]
        if not name:
            return [string]
        if position < len(tokens) and tokens[position][3] == "(":
            position += 1
            arguments = []
            while tokens[position][3] != ")":
                arguments.append(value())
                position += tokens[position][3] == ","
            position += 1
            if name == "c":
                return [item for argument in arguments for item in argument]
            assert name == "rep", name
            return arguments[0] * arguments[1][0]
        return list(names[name])

    return value()


def _read_aqlschemes() -> tuple[list[list[str]], dict[str, dict[str, dict[str, int]]]]:
    """Return AAZ14Single.R's Table 1 (15 rows x 7 levels) and its 9 matrices by name, [letter][AQL]."""
    text = re.sub(r"#[^\n]*", "", (DATA / "AAZ14Single.R").read_text().replace("\r\n", "\n"))
    vector = lambda name: _evaluate(re.search(rf"\b{name}<-(c\(.*?\))\n", text, re.S).group(1), {})
    letters, codes, aqls = vector("letters"), vector("codes"), vector("AQL")
    table_1 = [letters[row * 7:row * 7 + 7] for row in range(15)]
    matrices = {}
    # sample sizes: array(c(...), dim=c(26,16)) lists each code letter's 26 AQLs in turn; t() makes it [letter][AQL]
    for body, name in re.findall(r"temp<-array\((c\(.*?\)),\s*dim=c\(26,16\)\)\s*(\w+)\s*<-\s*t\(temp\)", text, re.S):
        values = _evaluate(body, {})
        matrices[name] = {code: {a: values[j * 26 + i] for i, a in enumerate(aqls)} for j, code in enumerate(codes)}
    # acceptance and rejection numbers: columns c1..c26 (one per AQL, 16 letters each), then cbind()
    columns: dict[str, list] = {}
    for name, expression in re.findall(r"^\s*(\w+)\s*<-\s*(.*?)\s*$", text, re.M):
        if re.fullmatch(r"c\d+", name):
            columns[name] = _evaluate(expression, columns)
        elif expression.startswith("cbind("):
            matrices[name] = {code: {a: columns[f"c{i + 1}"][j] for i, a in enumerate(aqls)}
                              for j, code in enumerate(codes)}
    assert aqls == list(aql.AQLS) and codes == list("ABCDEFGHJKLMNPQR")
    return table_1, matrices


def _read_garment_table_1() -> list[list[str]]:
    """Return garment-aql-calculator's Table 1 rows (15 rows x 7 levels), checking its lot size ranges."""
    tree = ast.parse((DATA / "garment_aql_calculator-1.0.0.py.txt").read_text())
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.Assign)
                and getattr(n.targets[0], "id", "") == "_SAMPLE_SIZE_CODE_LETTERS")
    rows = []
    for row, (low, high) in zip(node.value.elts, LOT_SIZE_ROWS, strict=True):
        assert row.elts[0].value == low
        assert (row.elts[1].value if isinstance(row.elts[1], ast.Constant) else None) == high
        rows.append([cell.value for cell in row.elts[2:]])
    return rows


TABLE_1_AQLSCHEMES, MATRICES = _read_aqlschemes()
TABLE_1_GARMENT = _read_garment_table_1()
MASTERS = {  # ours: source's matrix names for n, Ac, Re
    "normal": ("ANSIASQSingleNormalss", "ANSIASQSingleNormalac", "ANSIASQSingleNormalre"),
    "tightened": ("ANSASQSingleTightenedss", "ANSIASQSingleTightenedac", "ANSIASQSingleTightenedre"),
    "reduced": ("ANSIASQSingleReducedss", "ANSIASQSingleReducedac", "ANSIASQSingleReducedre"),
}


@pytest.mark.parametrize("source", ["AQLSchemes", "garment-aql-calculator"])
def test_table_1_every_cell(source):
    expected = TABLE_1_AQLSCHEMES if source == "AQLSchemes" else TABLE_1_GARMENT
    for row, (low, high) in enumerate(LOT_SIZE_ROWS):
        for column, level in enumerate(aql.LEVELS):
            for lot_size in {low, high or 10**7, (low + (high or 10**7)) // 2}:
                assert aql.code_letter(lot_size, level) == expected[row][column], (source, lot_size, level)


def test_the_sources_agree_on_table_1():
    assert TABLE_1_AQLSCHEMES == TABLE_1_GARMENT


@pytest.mark.parametrize("severity", aql.SEVERITIES)
def test_master_table_every_cell(severity):
    sizes, accepts, rejects = (MATRICES[name] for name in MASTERS[severity])
    checked = 0
    for letter in "ABCDEFGHJKLMNPQR":
        for printed in aql.AQLS:
            _, n, ac, re_ = aql.plan_for_letter(letter, printed, severity)
            source = (sizes[letter][printed], accepts[letter][printed], rejects[letter][printed])
            if severity == "reduced":  # Z1.4's II-C has the 1989 gap; ISO 2859-1:1999 keeps n and Ac, Re = Ac + 1
                assert (n, ac) == source[:2] and re_ == ac + 1 and source[2] >= re_, (letter, printed, source)
            else:
                assert (n, ac, re_) == source, (letter, printed)
            checked += 1
    assert checked == 16 * 26


def test_sampling_plan_follows_the_source_for_every_lot_size_row_and_level():
    """End to end: lot size -> code letter -> plan, as the source looks them up."""
    for severity in aql.SEVERITIES:
        sizes, accepts, _ = (MATRICES[name] for name in MASTERS[severity])
        for row, (low, _high) in enumerate(LOT_SIZE_ROWS):
            for column, level in enumerate(aql.LEVELS):
                letter = TABLE_1_AQLSCHEMES[row][column]
                for printed in aql.AQLS:
                    plan = aql.sampling_plan(low, printed, level, severity)
                    assert (plan.code_letter, plan.sample_size, plan.accept) == (
                        letter, sizes[letter][printed], accepts[letter][printed])


def test_the_source_file_is_the_published_one():
    """A re-saved copy (line ends changed, reformatted) is no longer the verbatim source."""
    raw = (DATA / "AAZ14Single.R").read_bytes()
    assert len(raw.decode()) == 15660 and raw.count(b"\r\n") == raw.count(b"\n") == 318
