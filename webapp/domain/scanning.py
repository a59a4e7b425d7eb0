"""What a scanned or typed text means: a bin of this server, a label of another server, or no bin code.

The device runs the same rules in static/js/scan/codes.js (tests/browser/test_scanning.py checks
that both agree), so the scan screen decides without the server, offline too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from webapp.domain.label_codes import ALPHABET, DIGITS, PREFIX, is_valid

BIN = "bin"  # a bin code of this server: open /b/<code>
FOREIGN = "foreign"  # a URL of another server: refuse, naming its host
WRONG_CHECK = "wrong_check"  # shaped like a bin code, but the check character does not match
NOT_A_BIN = "not_a_bin"  # anything else

URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
CODE_SHAPE_RE = re.compile(rf"^{PREFIX}\d{{{DIGITS},}}[{re.escape(ALPHABET)}]$")
BIN_PATH_RE = re.compile(r"^/b/([^/]+)/?$")
MAX_CODE = 40
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Scan:
    """The meaning of one scan: its kind, and the bin code or the foreign host it names."""

    kind: str
    code: str = ""
    host: str = ""


def origin_of(url: str) -> str:
    """Return scheme://host[:port] of a URL, lower case, without the scheme's default port ("" if none)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname:
        return ""
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS.get(scheme) else "")


def read_code(text: str) -> Scan:
    """Read a bare code as typed or scanned: spaces ignored, any case.

    Only the shape codes are minted in (B, five or more digits, the check character) is a code:
    any text passes the check character one time in 37 ("NOT A BIN" does).
    """
    code = re.sub(r"\s+", "", text).upper()
    if not CODE_SHAPE_RE.match(code) or len(code) > MAX_CODE:
        return Scan(NOT_A_BIN)
    return Scan(BIN if is_valid(code) else WRONG_CHECK, code=code)


def read_scan(text: str, own_origins: Iterable[str]) -> Scan:
    """Read a scan: this server's `…/b/<code>` URL or a bare code opens a bin; another server's URL is refused."""
    text = text.strip()
    if not URL_RE.match(text):
        return read_code(text)
    origin = origin_of(text)
    if not origin:
        return Scan(NOT_A_BIN)
    if origin not in {origin_of(o) for o in own_origins if o}:
        return Scan(FOREIGN, host=origin.split("://", 1)[1])
    match = BIN_PATH_RE.match(urlsplit(text).path)
    if not match:
        return Scan(NOT_A_BIN)
    scan = read_code(unquote(match.group(1)))
    return scan if scan.kind == BIN else Scan(NOT_A_BIN)
