"""Single sampling plans by attributes: ISO 2859-1:1999, identical to GB/T 2828.1-2012.

What a lot's inspection is sampled by (shared/domain.md "Inspections": final inspection at AQL 2.5,
"ISO 2859-1 / ANSI Z1.4 tables"). Four tables of the standard are transcribed below as printed,
arrows and all, and parsed once when the module is imported:

- Table 1: lot size and inspection level (S-1 to S-4, I, II, III) give the sample size code letter;
- Tables 2-A (normal), 2-B (tightened, which adds letter S, n = 3150) and 2-C (reduced): the code
  letter and the AQL give the plan: sample size n, acceptance number Ac, rejection number Re.
  ↓ means "use the first plan below the arrow", ↑ "the first plan above"; the plan is then the one
  of the row the arrow leads to, *its sample size included* (``plan_letter`` names that row).
  Single sampling has no gap: Re = Ac + 1 everywhere. Table 2-C is the 1999 one: the 1989 edition
  and ANSI/ASQ Z1.4 (MIL-STD-105E) printed reduced plans with a gap (e.g. 1 4) where a count between
  Ac and Re accepted the lot but ended reduced inspection; ISO 2859-1:1999 removed the gap. Here its
  plans are Z1.4's reduced sample sizes and acceptance numbers with Re = Ac + 1 (a count above Ac
  rejects the lot); no machine-readable copy of the 1999 Table 2-C was found to check that reading.

Verified cell by cell in tests/unit/test_aql_source.py against an independent machine-readable copy
of the tables: the R package AQLSchemes (John S. Lawson, CRAN, version 1.7-2, GPL-2), whose
R/AAZ14Single.R is kept verbatim in tests/data/aql/, and, for Table 1 only, the PyPI package
garment-aql-calculator 1.0.0 (MIT). Those give the plans with the arrows already followed, for
ANSI/ASQ Z1.4 = MIL-STD-105E, whose Tables I, II-A and II-B are those of ISO 2859-1; for Table 2-C
the test compares n and Ac with Z1.4's Table II-C and checks Re = Ac + 1.

When the sample size n reaches the lot size, the standard says to inspect every item: the plan then
still reports the table's n (so the plan reads as the standard's) and sets ``inspect_all``; the
inspector inspects the whole lot and the lot is judged with the same Ac and Re.

Plain data and pure functions: no Flask, no database. Devices get ``tables()`` as pulled data and
compute the same plans offline (webapp/static/js/offline/aql.js, checked against this module by
tests/unit/test_aql_js.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

AQLS = (
    "0.010", "0.015", "0.025", "0.040", "0.065", "0.10", "0.15", "0.25", "0.40", "0.65", "1.0", "1.5", "2.5",
    "4.0", "6.5", "10", "15", "25", "40", "65", "100", "150", "250", "400", "650", "1000",
)  # fmt: skip
LEVELS = ("S-1", "S-2", "S-3", "S-4", "I", "II", "III")
SEVERITIES = ("normal", "tightened", "reduced")
DOWN, UP = "down", "up"  # an arrow in a master table, as tables() sends it

# Table 1, sample size code letters. The last row is "500 001 and over".
_TABLE_1 = """
lot size          S-1  S-2  S-3  S-4    I   II  III
2-8                A    A    A    A     A    A    B
9-15               A    A    A    A     A    B    C
16-25              A    A    B    B     B    C    D
26-50              A    B    B    C     C    D    E
51-90              B    B    C    C     C    E    F
91-150             B    B    C    D     D    F    G
151-280            B    C    D    E     E    G    H
281-500            B    C    D    E     F    H    J
501-1200           C    C    E    F     G    J    K
1201-3200          C    D    E    G     H    K    L
3201-10000         C    D    F    G     J    L    M
10001-35000        C    D    F    H     K    M    N
35001-150000       D    E    G    J     L    N    P
150001-500000      D    E    G    J     M    P    Q
500001-            D    E    H    K     N    Q    R
"""

# The master tables: code letter, sample size, then per AQL "Ac Re", ↓, ↑, or · where the standard
# prints nothing (only the row of letter S in Table 2-B, which arrows reach at AQL 0.025 alone). Row A
# has no plan above it and the last row none below, so their arrows point the only way they can.

# Table 2-A, normal inspection.
_TABLE_2A = """
          0.010 0.015 0.025 0.040 0.065 0.10  0.15  0.25  0.40  0.65   1.0   1.5   2.5   4.0   6.5   10    15    25    40    65    100   150   250   400   650  1000
A     2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22 30 31
B     3     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22 30 31 44 45
C     5     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22 30 31 44 45   ↑
D     8     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22 30 31 44 45   ↑     ↑
E    13     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22 30 31 44 45   ↑     ↑     ↑
F    20     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑
G    32     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑     ↑
H    50     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
J    80     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
K   125     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
L   200     ↓     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
M   315     ↓     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
N   500     ↓     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
P   800     ↓    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
Q  1250    0 1    ↑     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
R  2000     ↑     ↑    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
"""  # noqa: E501

# Table 2-B, tightened inspection.
_TABLE_2B = """
          0.010 0.015 0.025 0.040 0.065 0.10  0.15  0.25  0.40  0.65   1.0   1.5   2.5   4.0   6.5   10    15    25    40    65    100   150   250   400   650  1000
A     2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19 27 28
B     3     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19 27 28 41 42
C     5     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19 27 28 41 42   ↑
D     8     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19 27 28 41 42   ↑     ↑
E    13     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19 27 28 41 42   ↑     ↑     ↑
F    20     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑
G    32     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑     ↑
H    50     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
J    80     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
K   125     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
L   200     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
M   315     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
N   500     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
P   800     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
Q  1250     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
R  2000    0 1    ↑     ↓    1 2   2 3   3 4   5 6   8 9  12 13 18 19   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
S  3150     ·     ·    1 2    ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·     ·
"""  # noqa: E501

# Table 2-C, reduced inspection (ISO 2859-1:1999: no gap, Re = Ac + 1).
_TABLE_2C = """
          0.010 0.015 0.025 0.040 0.065 0.10  0.15  0.25  0.40  0.65   1.0   1.5   2.5   4.0   6.5   10    15    25    40    65    100   150   250   400   650  1000
A     2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↓     ↓    1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22 30 31
B     2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22 30 31
C     2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑
D     3     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑
E     5     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11 14 15 21 22   ↑     ↑     ↑
F     8     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑
G    13     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑     ↑
H    20     ↓     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
J    32     ↓     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
K    50     ↓     ↓     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
L    80     ↓     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
M   125     ↓     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
N   200     ↓     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
P   315     ↓    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
Q   500    0 1    ↑     ↓    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
R   800     ↑     ↑    0 1   1 2   1 2   2 3   3 4   5 6   7 8  10 11   ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
"""  # noqa: E501


class AqlError(ValueError):
    """A sampling question the tables cannot answer; ``code`` names the input at fault, for translation."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # "lot_size", "aql", "level", "severity" or "found"


@dataclass(frozen=True)
class SamplingPlan:
    """A single sampling plan: inspect ``sample_size`` items, accept the lot with ``accept`` or fewer found."""

    aql: str  # as printed in the tables: "2.5", "0.010"; "0" for a zero-acceptance class (class_plans)
    level: str
    severity: str
    code_letter: str  # from Table 1
    plan_letter: str  # the row whose plan is used, after following the arrows
    sample_size: int  # n of plan_letter, as the table has it even when it reaches the lot size
    accept: int  # Ac
    reject: int  # Re = Ac + 1
    inspect_all: bool  # n >= lot size: inspect every item of the lot, judge it with the same Ac and Re

    def accepts(self, found: int) -> bool:
        """Return whether the lot is accepted with ``found`` nonconforming items (or nonconformities)."""
        return found <= self.accept


Cell = tuple[int, int] | str | None  # (Ac, Re), DOWN, UP, or nothing printed
_ARROWS: dict[str, Cell] = {"↓": DOWN, "↑": UP, "·": None}


@dataclass(frozen=True)
class _Master:
    letters: tuple[str, ...]
    sample_sizes: tuple[int, ...]
    cells: tuple[tuple[Cell, ...], ...]  # [letter][AQL]


def _parse_table_1(text: str) -> tuple[tuple[tuple[int, int | None], ...], dict[str, tuple[str, ...]]]:
    rows = [line.split() for line in text.strip().splitlines()]
    assert tuple(rows[0][2:]) == LEVELS, rows[0]
    lots, letters = [], []
    for lots_range, *row in rows[1:]:
        low, high = lots_range.split("-")
        lots.append((int(low), int(high) if high else None))
        letters.append(tuple(row))
    return tuple(lots), {level: tuple(row[i] for row in letters) for i, level in enumerate(LEVELS)}


def _parse_master(text: str) -> _Master:
    header, *lines = [line.split() for line in text.strip("\n").splitlines()]
    assert tuple(header) == AQLS, header
    letters, sizes, cells = [], [], []
    for letter, size, *tokens in lines:
        row: list[Cell] = []
        numbers = iter(tokens)
        for token in numbers:
            row.append(_ARROWS[token] if token in _ARROWS else (int(token), int(next(numbers))))
        assert len(row) == len(AQLS), letter
        letters.append(letter)
        sizes.append(int(size))
        cells.append(tuple(row))
    return _Master(tuple(letters), tuple(sizes), tuple(cells))


_LOT_SIZES, _CODE_LETTERS = _parse_table_1(_TABLE_1)
_MASTERS = {
    "normal": _parse_master(_TABLE_2A),
    "tightened": _parse_master(_TABLE_2B),
    "reduced": _parse_master(_TABLE_2C),
}


def _follow(master: _Master, row: int, column: int) -> tuple[str, int, int, int]:
    start = row
    while 0 <= row < len(master.letters) and master.cells[row][column] in (DOWN, UP):
        row += 1 if master.cells[row][column] == DOWN else -1
    cell = master.cells[row][column] if 0 <= row < len(master.letters) else None
    if not isinstance(cell, tuple):  # a transcription error: the import fails rather than a plan be wrong
        raise LookupError(f"the arrow at {master.letters[start]}, AQL {AQLS[column]} leads to no plan")
    return master.letters[row], master.sample_sizes[row], cell[0], cell[1]


# Every cell followed once: (plan letter, n, Ac, Re) by severity, code letter and AQL. Letter S (Table 2-B)
# is never a code letter, only an arrow's end, so it has no row here.
_PLANS = {
    severity: {
        letter: {aql: _follow(master, row, column) for column, aql in enumerate(AQLS)}
        for row, letter in enumerate(master.letters)
        if letter != "S"
    }
    for severity, master in _MASTERS.items()
}
_AQL_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
_AQL_BY_VALUE = {Decimal(aql): aql for aql in AQLS}


def normalise_aql(aql: str | Decimal | int) -> str:
    """Return the AQL as the tables print it ("2.50" -> "2.5"); raise AqlError if it is not one of them."""
    if isinstance(aql, str) and _AQL_TEXT.fullmatch(aql.strip()):
        value = Decimal(aql.strip())
    elif isinstance(aql, Decimal) and aql.is_finite() or isinstance(aql, int) and not isinstance(aql, bool):
        value = Decimal(aql)
    else:
        raise AqlError("aql", f"An AQL is a number such as 2.5, not {aql!r}.")
    if value not in _AQL_BY_VALUE:
        raise AqlError("aql", f"AQL {aql} is not in the ISO 2859-1 tables: use one of {', '.join(AQLS)}.")
    return _AQL_BY_VALUE[value]


def code_letter(lot_size: int, level: str = "II") -> str:
    """Return the sample size code letter of Table 1 for a lot size and an inspection level."""
    if not isinstance(lot_size, int) or isinstance(lot_size, bool) or lot_size < 2:
        raise AqlError("lot_size", f"A lot size is a whole number of items, 2 or more, not {lot_size!r}.")
    if level not in LEVELS:
        raise AqlError("level", f"Inspection level {level!r} is not one of {', '.join(LEVELS)}.")
    row = next(i for i, (_, high) in enumerate(_LOT_SIZES) if high is None or lot_size <= high)
    return _CODE_LETTERS[level][row]


def _check_severity(severity: str) -> None:
    if severity not in SEVERITIES:
        raise AqlError("severity", f"Inspection severity {severity!r} is not one of {', '.join(SEVERITIES)}.")


def plan_for_letter(letter: str, aql: str | Decimal | int, severity: str = "normal") -> tuple[str, int, int, int]:
    """Return (plan letter, n, Ac, Re) of a master table's cell for a code letter, its arrows followed."""
    _check_severity(severity)
    return _PLANS[severity][letter][normalise_aql(aql)]


def one_step_tighter(aql: str | Decimal | int) -> str | None:
    """Return the next smaller AQL of the tables (for 2.5: 1.5), or None for the smallest."""
    index = AQLS.index(normalise_aql(aql))
    return AQLS[index - 1] if index else None


def sampling_plan(lot_size: int, aql: str | Decimal, level: str = "II", severity: str = "normal") -> SamplingPlan:
    """Return the single sampling plan for a lot of ``lot_size`` items at an AQL, level and severity."""
    letter = code_letter(lot_size, level)
    printed = normalise_aql(aql)
    _check_severity(severity)
    plan_letter, sample_size, accept, reject = plan_for_letter(letter, printed, severity)
    return SamplingPlan(printed, level, severity, letter, plan_letter, sample_size, accept, reject,
                        inspect_all=sample_size >= lot_size)


def _is_zero(aql: str | Decimal | int | None) -> bool:
    if isinstance(aql, str):
        return bool(_AQL_TEXT.fullmatch(aql.strip())) and Decimal(aql.strip()) == 0
    return aql is None or isinstance(aql, Decimal | int) and not isinstance(aql, bool) and aql == 0


def class_plans(lot_size: int, aqls: Mapping[str, str | Decimal | None], level: str = "II",
                severity: str = "normal") -> dict[str, SamplingPlan | None]:
    """Return the plan of each defect class ({"critical": "0", "major": "2.5", "minor": "4.0"}).

    An AQL of 0 (or None) is zero acceptance: any defect of that class rejects the lot. It has no
    table of its own, so it is checked on the largest sample the other classes draw (every item drawn
    is looked at for every class): accept 0, reject 1, with that plan's n, letter and inspect_all. When
    no class has an AQL above 0 there is no sample to size, and those classes get None: decide()
    still rejects on any defect found, but the caller has to say how many items to inspect.
    """
    code_letter(lot_size, level)  # the inputs are checked even when every class is zero
    _check_severity(severity)
    plans: dict[str, SamplingPlan | None] = {}
    for name, aql in aqls.items():
        try:
            plans[name] = None if aql is None or _is_zero(aql) else sampling_plan(lot_size, aql, level, severity)
        except AqlError as error:
            raise AqlError(error.code, f"Defect class {name}: {error}") from None
    sized = [plan for plan in plans.values() if plan is not None]
    if not sized:
        return plans
    largest = max(sized, key=lambda plan: plan.sample_size)
    zero = SamplingPlan("0", level, severity, largest.code_letter, largest.plan_letter, largest.sample_size,
                        accept=0, reject=1, inspect_all=largest.inspect_all)
    return {name: plan or zero for name, plan in plans.items()}


def decide(plans: Mapping[str, SamplingPlan | None], found: Mapping[str, int]) -> dict[str, Any]:
    """Judge a lot: each class is rejected when its count reaches Re, the lot when any class is.

    ``found`` counts nonconforming items (or nonconformities) per class; a class without a count found
    none. A class whose plan is None (zero acceptance with no sample size, see class_plans) rejects on
    any defect. Returns {"lot": "accepted" | "rejected", "accepted": bool, "rejected_classes": [...],
    "classes": {name: {"decision": "accepted" | "rejected", "accepted": bool, "found", "accept", "reject"}}}.
    """
    unknown = sorted(set(found) - set(plans))
    if unknown:
        raise AqlError("found", f"Defects were counted for classes without a plan: {', '.join(unknown)}.")
    classes = {}
    for name, plan in plans.items():
        count = found.get(name, 0)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise AqlError("found", f"The count of {name} defects is a whole number, 0 or more, not {count!r}.")
        accept, reject = (plan.accept, plan.reject) if plan else (0, 1)
        decision = "rejected" if count >= reject else "accepted"
        classes[name] = {"decision": decision, "accepted": decision == "accepted", "found": count, "accept": accept,
                         "reject": reject}
    rejected = [name for name, result in classes.items() if result["decision"] == "rejected"]
    return {"lot": "rejected" if rejected else "accepted", "accepted": not rejected, "rejected_classes": rejected,
            "classes": classes}


def tables() -> dict[str, Any]:
    """Return the tables as plain JSON data, for devices to compute plans offline (aql.js).

    {"standard", "aqls", "levels", "severities", "lot_sizes": [[low, high or null], ...],
    "code_letters": {level: [letter per lot size row]}, "master": {severity: {"letters",
    "sample_sizes", "cells": [[cell per AQL] per letter]}}}; a cell is [Ac, Re], "down", "up" or null.
    """
    return {
        "standard": "ISO 2859-1:1999",
        "aqls": list(AQLS),
        "levels": list(LEVELS),
        "severities": list(SEVERITIES),
        "lot_sizes": [[low, high] for low, high in _LOT_SIZES],
        "code_letters": {level: list(letters) for level, letters in _CODE_LETTERS.items()},
        "master": {
            severity: {
                "letters": list(master.letters),
                "sample_sizes": list(master.sample_sizes),
                "cells": [[list(cell) if isinstance(cell, tuple) else cell for cell in row] for row in master.cells],
            }
            for severity, master in _MASTERS.items()
        },
    }
