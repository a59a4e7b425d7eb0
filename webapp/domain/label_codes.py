"""Bin codes: a short readable code with an ISO/IEC 7064 MOD 37-2 check character."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
PREFIX = "B"
DIGITS = 5


def _weighted(text: str) -> int:
    value = 0
    for char in text:
        value = (value * 2 + ALPHABET.index(char)) % 37
    return value


def check_char(body: str) -> str:
    """Return the MOD 37-2 check character for `body` (catches one wrong or two swapped characters)."""
    return ALPHABET[(1 - 2 * _weighted(body)) % 37]


def is_valid(code: str) -> bool:
    """Say whether a code's last character is its correct check character."""
    code = code.upper()
    return len(code) >= 2 and all(c in ALPHABET for c in code) and _weighted(code) == 1


def mint(number: int) -> str:
    """Return the code of the `number`-th label minted (1, 2, …): B00001 plus its check character."""
    body = f"{PREFIX}{number:0{DIGITS}d}"
    return body + check_char(body)
