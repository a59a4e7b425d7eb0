"""QR matrices for labels: segno encodes, a bitwise mask search picks the data mask.

segno (pure Python, no dependencies) encodes the data at error-correction level M, raised
to Q or H when that fits in the same version. Choosing the data mask is most of segno's time
(it masks and scores all eight module by module, about 4 ms a code), which alone would hold
PDF output under 250 labels a second. So segno encodes once with mask 0, and this module
derives the other seven by XOR with precomputed row bitmasks, scores each with the
ISO/IEC 18004 penalty rules (N1 runs, N2 blocks, N3 finder-like patterns, N4 balance) on
bit strings, and keeps the lowest: about 1 ms in all. tests/unit/test_labels_qr.py checks
the derived symbols equal segno's own for every mask and version, and that they decode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import segno

QUIET = 4  # modules of light margin on every side (ISO/IEC 18004)
EC_BITS = {"L": 1, "M": 0, "Q": 3, "H": 2}
MASKS = (
    lambda y, x: (y + x) % 2 == 0,
    lambda y, x: y % 2 == 0,
    lambda y, x: x % 3 == 0,
    lambda y, x: (y + x) % 3 == 0,
    lambda y, x: (y // 2 + x // 3) % 2 == 0,
    lambda y, x: (y * x) % 2 + (y * x) % 3 == 0,
    lambda y, x: ((y * x) % 2 + (y * x) % 3) % 2 == 0,
    lambda y, x: ((y + x) % 2 + (y * x) % 3) % 2 == 0,
)
_TO_BITS = bytes.maketrans(b"\x00\x01", b"01")


@dataclass(frozen=True)
class QR:
    """A QR symbol: rows of modules as strings ("1" = dark), its version, level and mask."""

    rows: tuple[str, ...]
    version: int
    error: str
    mask: int

    @property
    def size(self) -> int:
        """Return the number of modules per side, quiet zone excluded."""
        return len(self.rows)

    @property
    def size_with_quiet_zone(self) -> int:
        """Return the modules per side including the quiet zone."""
        return len(self.rows) + 2 * QUIET


def alignment_positions(version: int) -> list[int]:
    """Return the row/column centres of the alignment patterns of a version."""
    if version == 1:
        return []
    size = version * 4 + 17
    count = version // 7 + 2
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    return [6] + sorted(size - 7 - i * step for i in range(count - 1))


def format_bits(error: str, mask: int) -> int:
    """Return the 15 format-information bits (BCH-coded, XOR-masked) for a level and mask."""
    data = EC_BITS[error] << 3 | mask
    rem = data
    for _ in range(10):
        rem = (rem << 1) ^ ((rem >> 9) * 0x537)
    return (data << 10 | rem) ^ 0x5412


def format_positions(size: int) -> list[list[tuple[int, int]]]:
    """Return, for each of the 15 format bits, the (row, column) of both of its copies."""
    first = [(i, 8) for i in range(6)] + [(7, 8), (8, 8), (8, 7)] + [(8, 14 - i) for i in range(9, 15)]
    second = [(8, size - 1 - i) for i in range(8)] + [(size - 15 + i, 8) for i in range(8, 15)]
    return [[first[i], second[i]] for i in range(15)]


@lru_cache(maxsize=64)
def _function_modules(version: int) -> frozenset[tuple[int, int]]:
    """Return the modules no mask touches: finders, separators, timing, alignment, format, version."""
    size = version * 4 + 17
    taken: set[tuple[int, int]] = set()
    for r0, c0 in ((0, 0), (0, size - 8), (size - 8, 0)):  # finder + separator
        taken |= {(r, c) for r in range(r0, r0 + 8) for c in range(c0, c0 + 8)}
    taken |= {(6, i) for i in range(size)} | {(i, 6) for i in range(size)}
    centres = alignment_positions(version)
    for r in centres:
        for c in centres:
            if (r, c) in ((6, 6), (6, centres[-1]), (centres[-1], 6)):
                continue  # would overlap a finder
            taken |= {(r + dr, c + dc) for dr in range(-2, 3) for dc in range(-2, 3)}
    for pair in format_positions(size):
        taken |= set(pair)
    taken.add((size - 8, 8))  # the dark module
    if version >= 7:
        taken |= {(r, c) for r in range(6) for c in range(size - 11, size - 8)}
        taken |= {(r, c) for r in range(size - 11, size - 8) for c in range(6)}
    return frozenset(taken)


@dataclass(frozen=True)
class _Board:
    """Constants of the packed form of a version: rows, then columns, each in a stride of size + 4 bits.

    Bit (line * stride + i) is module i of the line. The 4 bits after each line stay 0 (light):
    they stand for the quiet zone when looking for finder-like patterns, and keep a 1:1:3:1:1
    pattern from spanning two lines.
    """

    size: int
    stride: int
    pairs: int  # bits i where module i and i + 1 are in the same line (N1)
    blocks: int  # top-left corners of 2 x 2 blocks, rows only (N2)
    row_bits: int  # every module of the row half (N4)
    deltas: tuple[int, ...]  # per mask: XOR from the mask-0 symbol to that mask's


def _line_bits(size: int, stride: int, lines: range, width: int) -> int:
    one_line = (1 << width) - 1
    return sum(one_line << (j * stride) for j in lines)


@lru_cache(maxsize=64)
def _board(version: int, error: str) -> _Board:
    size = version * 4 + 17
    stride = size + 4
    fixed = _function_modules(version)
    positions = format_positions(size)
    base_format = format_bits(error, 0)
    deltas = []
    for number, pattern in enumerate(MASKS):
        flips = {(y, x) for y in range(size) for x in range(size)
                 if (y, x) not in fixed and MASKS[0](y, x) != pattern(y, x)}
        changed = format_bits(error, number) ^ base_format
        flips |= {pos for i in range(15) if changed >> i & 1 for pos in positions[i]}
        deltas.append(sum((1 << (y * stride + x)) | (1 << ((size + x) * stride + y)) for y, x in flips))
    return _Board(
        size, stride,
        pairs=_line_bits(size, stride, range(2 * size), size - 1),
        blocks=_line_bits(size, stride, range(size - 1), size - 1),
        row_bits=_line_bits(size, stride, range(size), size),
        deltas=tuple(deltas),
    )


def _pack(lines: list[str], stride: int) -> int:
    """Pack lines of "0"/"1" (module i = bit i of its line) into one integer."""
    pad = "0" * (stride - len(lines[0]))
    return int("".join(pad + line[::-1] for line in reversed(lines)), 2)


def penalty(packed: int, board: _Board) -> int:
    """Return the ISO/IEC 18004 penalty of a packed symbol (N1 runs, N2 blocks, N3 finder-like, N4 balance)."""
    light = ~packed
    # N1: a run of L >= 5 same-colour modules scores L - 2; it is a block of L - 1 "same as next" bits.
    same = ~(packed ^ (packed >> 1)) & board.pairs
    fours = same & (same >> 1) & (same >> 2) & (same >> 3)
    covered = fours | (fours << 1) | (fours << 2) | (fours << 3)
    score = covered.bit_count() - (fours & ~(fours << 1)).bit_count()
    # N2: 3 for every 2 x 2 block of one colour (overlapping blocks count).
    same_down = ~(packed ^ (packed >> board.stride))
    score += 3 * (same_down & (same_down >> 1) & same & board.blocks).bit_count()
    # N3: 40 for 1011101 with four light modules before or after it.
    found = (packed & (light >> 1) & (packed >> 2) & (packed >> 3) & (packed >> 4) & (light >> 5)
             & (packed >> 6))
    after = (light >> 7) & (light >> 8) & (light >> 9) & (light >> 10)
    before = (light << 1) & (light << 2) & (light << 3) & (light << 4)
    score += 40 * (found & (after | before)).bit_count()
    # N4: 10 for every 5 % the dark share strays from 50 %.
    total = board.size * board.size
    dark = (packed & board.row_bits).bit_count()
    return score + 10 * (abs(20 * dark - 10 * total) // total)


def make(data: str) -> QR:
    """Encode `data` at level M or better, with the data mask of lowest penalty."""
    code = segno.make_qr(data, error="m", boost_error=True, mask=0)
    board = _board(code.version, code.error)
    rows = [bytes(row).translate(_TO_BITS).decode() for row in code.matrix]
    cols = ["".join(col) for col in zip(*rows, strict=True)]
    first = _pack(rows + cols, board.stride)
    score, number, packed = min((penalty(first ^ delta, board), number, first ^ delta)
                                for number, delta in enumerate(board.deltas))
    line = (1 << board.size) - 1
    out = tuple(format(packed >> (y * board.stride) & line, f"0{board.size}b")[::-1] for y in range(board.size))
    return QR(out, code.version, code.error, number)


def runs(row: str) -> list[tuple[int, int]]:
    """Return the dark runs of a row as (start, length), for drawing one rectangle per run."""
    return [(m.start(), m.end() - m.start()) for m in re.finditer("1+", row)]
