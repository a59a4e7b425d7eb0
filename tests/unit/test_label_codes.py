"""Bin codes catch a mistyped character and two swapped neighbours."""

import pytest

from webapp.domain.label_codes import ALPHABET, is_valid, mint


def test_codes_are_minted_in_sequence():
    assert [mint(n)[:6] for n in (1, 2, 40)] == ["B00001", "B00002", "B00040"]
    assert len({mint(n) for n in range(1, 2000)}) == 1999


@pytest.mark.parametrize("n", [1, 7, 40, 999, 12345])
def test_every_single_substitution_is_caught(n):
    code = mint(n)
    assert is_valid(code) and is_valid(code.lower())
    for i in range(len(code)):
        for char in ALPHABET:
            if char != code[i]:
                assert not is_valid(code[:i] + char + code[i + 1:])


@pytest.mark.parametrize("n", [1, 7, 40, 999, 12345])
def test_every_adjacent_swap_is_caught(n):
    code = mint(n)
    for i in range(len(code) - 1):
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
        if swapped != code:
            assert not is_valid(swapped)
