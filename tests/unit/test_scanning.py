"""What a scan means: this server's label URL or a bare code opens a bin; anything else is refused, and why."""

import pytest

from webapp.domain.label_codes import mint
from webapp.domain.scanning import BIN, FOREIGN, NOT_A_BIN, WRONG_CHECK, Scan, origin_of, read_scan

OWN = ("http://127.0.0.1:8000/", "https://shopfloor.plant.example")
CODE = mint(21)  # B00021R


# The device runs the same table through static/js/scan/codes.js (tests/browser/test_scanning.py).
SCANS = [
    (CODE, Scan(BIN, code=CODE)),
    (f"  {CODE.lower()}\r\n", Scan(BIN, code=CODE)),
    ("B 00021 R", Scan(BIN, code=CODE)),  # typed with spaces
    ("B00021X", Scan(WRONG_CHECK, code="B00021X")),  # one character wrong
    ("B00012R", Scan(WRONG_CHECK, code="B00012R")),  # two swapped
    (mint(123456), Scan(BIN, code=mint(123456))),  # six digits, once the five run out
    ("not a bin", Scan(NOT_A_BIN)),  # passes the bare check character by chance: not a code's shape
    ("B0002", Scan(NOT_A_BIN)),
    ("", Scan(NOT_A_BIN)),
    (f"http://127.0.0.1:8000/b/{CODE}", Scan(BIN, code=CODE)),
    (f"https://shopfloor.plant.example/b/{CODE}/", Scan(BIN, code=CODE)),  # PUBLIC_URL, as labels print it
    (f"HTTPS://Shopfloor.Plant.Example:443/b/{CODE.lower()}", Scan(BIN, code=CODE)),
    (f"http://127.0.0.1:8000/b/{CODE}?from=label", Scan(BIN, code=CODE)),
    (f"https://127.0.0.1:8000/b/{CODE}", Scan(FOREIGN, host="127.0.0.1:8000")),  # another scheme, another origin
    (f"https://other-plant.example:8443/b/{CODE}", Scan(FOREIGN, host="other-plant.example:8443")),
    (f"http://user@Elsewhere.example/b/{CODE}", Scan(FOREIGN, host="elsewhere.example")),
    ("http://127.0.0.1:8000/b/B00021X", Scan(NOT_A_BIN)),  # our URL, a code no label carries
    ("http://127.0.0.1:8000/scan", Scan(NOT_A_BIN)),
    ("http://127.0.0.1:8000/b/", Scan(NOT_A_BIN)),
    ("http://", Scan(NOT_A_BIN)),
    ("mailto:someone@example.com", Scan(NOT_A_BIN)),
]


@pytest.mark.parametrize(("text", "expected"), SCANS)
def test_what_a_scan_means(text, expected):
    assert read_scan(text, OWN) == expected


def test_without_public_url_only_this_page_s_origin_is_ours():
    assert read_scan(f"https://shopfloor.plant.example/b/{CODE}", ["http://127.0.0.1:8000", ""]).kind == FOREIGN


@pytest.mark.parametrize(("url", "origin"), [
    ("https://Shop.Example:443/x", "https://shop.example"),
    ("http://shop.example:80", "http://shop.example"),
    ("http://shop.example:8000/", "http://shop.example:8000"),
    ("http://[::1]:8000/b/x", "http://[::1]:8000"),
    ("shop.example", ""),
    ("http://shop.example:99999/", ""),
])
def test_origins_compare_without_default_ports_or_case(url, origin):
    assert origin_of(url) == origin
