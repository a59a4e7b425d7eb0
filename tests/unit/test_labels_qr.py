"""QR matrices for labels: the fast mask search gives segno's own symbols, and they decode."""

import random

import pytest
import segno
import zxingcpp
from PIL import Image
from segno import consts, encoder

from webapp.printing import qr


def _rows(code) -> list[str]:
    return ["".join(str(bit) for bit in row) for row in code.matrix]


def _packed(symbol: qr.QR) -> int:
    board = qr._board(symbol.version, symbol.error)
    return qr._pack(list(symbol.rows) + ["".join(c) for c in zip(*symbol.rows, strict=True)], board.stride)


@pytest.mark.parametrize("version", range(1, 16))
def test_alignment_positions_match_the_standard_table(version):
    expected = list(consts.ALIGNMENT_POS[version - 2]) if version > 1 else []
    assert qr.alignment_positions(version) == expected


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5, 6, 7, 10, 14])
@pytest.mark.parametrize("error", ["l", "m", "q", "h"])
def test_every_mask_derived_from_mask_0_equals_segnos_symbol(version, error):
    data = "x" * 3
    base = segno.make_qr(data, error=error, version=version, boost_error=False, mask=0)
    board = qr._board(version, base.error)
    first = qr._pack(_rows(base) + ["".join(c) for c in zip(*_rows(base), strict=True)], board.stride)
    size = board.size
    for mask, delta in enumerate(board.deltas):
        packed = first ^ delta
        rows = [format(packed >> (y * board.stride) & ((1 << size) - 1), f"0{size}b")[::-1] for y in range(size)]
        assert rows == _rows(segno.make_qr(data, error=error, version=version, boost_error=False, mask=mask))


def test_make_returns_segnos_symbol_for_the_mask_it_chose():
    rng = random.Random(5)
    for i in range(60):
        data = f"https://shopfloor.plant.example/b/B{i:05d}X" if i % 2 else "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyz0123456789/:.-") for _ in range(rng.randrange(4, 120)))
        symbol = qr.make(data)
        reference = segno.make_qr(data, error="m", boost_error=True, mask=symbol.mask)
        assert list(symbol.rows) == _rows(reference)
        assert symbol.error in ("M", "Q", "H")  # M or better


def test_the_penalty_is_the_standards_score():
    """N1, N2 and N4 as segno counts them; N3 also counts patterns overlapping a counted one (ISO 18004)."""
    same = 0
    for i in range(40):
        symbol = qr.make(f"https://shopfloor.plant.example/b/B{i:05d}X")
        matrix = [bytearray(int(c) for c in row) for row in symbol.rows]
        n1, n2, n3, n4 = encoder.mask_scores(matrix, symbol.size, symbol.size)
        mine = qr.penalty(_packed(symbol), qr._board(symbol.version, symbol.error))
        assert mine - (n1 + n2 + n4) >= n3 and (mine - (n1 + n2 + n3 + n4)) % 40 == 0
        same += mine == n1 + n2 + n3 + n4
    assert same >= 30


def test_the_chosen_mask_has_the_lowest_penalty():
    data = "https://shopfloor.plant.example/b/B00042M"
    symbol = qr.make(data)
    scores = []
    for mask in range(8):
        ref = qr.QR(tuple(_rows(segno.make_qr(data, error="m", boost_error=True, mask=mask))), symbol.version,
                    symbol.error, mask)
        scores.append(qr.penalty(_packed(ref), qr._board(ref.version, ref.error)))
    assert scores[symbol.mask] == min(scores)


@pytest.mark.parametrize("data", ["https://a.example/b/B00001Z", "https://shopfloor.plant.example:8443/b/B12345Q",
                                  "https://" + "x" * 60 + ".example/b/B00007N"])
def test_symbols_decode(data):
    symbol = qr.make(data)
    n, scale = symbol.size_with_quiet_zone, 6
    image = Image.new("L", (n, n), 255)
    image.putdata([0 if (0 <= y - 4 < symbol.size and 0 <= x - 4 < symbol.size and symbol.rows[y - 4][x - 4] == "1")
                   else 255 for y in range(n) for x in range(n)])
    found = zxingcpp.read_barcodes(image.resize((n * scale, n * scale), Image.Resampling.NEAREST))
    assert [r.text for r in found] == [data]


def test_runs_are_the_dark_stretches_of_a_row():
    assert qr.runs("0110111001") == [(1, 2), (4, 3), (9, 1)]
