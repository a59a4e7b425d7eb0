"""Signing for someone else: staff badges, PINs and the proof a signature carries.

A person who signs on a device they are not signed in on (a handover tablet, an inspector's
phone) shows their staff badge (a QR with a secret) and types their PIN. The device derives a
key from both, signs the record's event id and content hash with it, and forgets both. The
server, which holds the badge secret and a slow hash of the PIN (never the PIN), recomputes
the proof when the record syncs. Plain functions: the device computes the same in
`static/js/offline/signing.js`, and `tests/unit/test_signing.py` holds both to fixed vectors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

PIN_ITERATIONS = 100_000  # PBKDF2-SHA256 rounds: ~0.1 s on a floor phone's WebCrypto
PROOF_VERSION = "shopfloor-signature/1"
BADGE_PREFIX = "SFB1"
BADGE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
BADGE_RE = re.compile(r"^SFB1:([1-9][0-9]{0,9}):([A-Z2-7]{8}):([A-Za-z0-9_-]{43})$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
PIN_RE = re.compile(r"^[0-9]{4,8}$")


class PinRefused(ValueError):
    """A PIN that breaks the rules; `reason` says which (the page translates it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Badge:
    """What a staff badge's QR says."""

    user_id: int
    code: str
    secret: str

    def text(self) -> str:
        """Return the QR text (not a URL, so a phone's camera app never opens it)."""
        return f"{BADGE_PREFIX}:{self.user_id}:{self.code}:{self.secret}"


def new_badge(user_id: int) -> Badge:
    """Make a badge with a fresh code and a 256-bit secret."""
    code = "".join(secrets.choice(BADGE_ALPHABET) for _ in range(8))
    return Badge(user_id, code, secrets.token_urlsafe(32))


def parse_badge(text: str) -> Badge | None:
    """Read a badge's QR text; None when it is not one."""
    found = BADGE_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    return Badge(int(found.group(1)), found.group(2), found.group(3)) if found else None


def check_pin(pin: str) -> str:
    """Return the PIN if it may be used: 4 to 8 digits, not one digit repeated, not a run like 1234 or 9876."""
    if not isinstance(pin, str) or not PIN_RE.fullmatch(pin):
        raise PinRefused("format")
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({0}, {1}, {-1}):
        raise PinRefused("too_simple")
    return pin


def new_salt() -> str:
    """Return a fresh PIN salt (hex; not secret: devices need it to derive the key)."""
    return secrets.token_hex(16)


def pin_key(pin: str, salt_hex: str, iterations: int = PIN_ITERATIONS) -> str:
    """Return the slow hash of a PIN the server keeps and the device derives (hex)."""
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt_hex), iterations, 32).hex()


def canonical_json(value: Any) -> str:
    """Serialise JSON as the device does: sorted keys, no spaces, characters as themselves."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(event_type: str, payload: dict[str, Any]) -> str:
    """Return the hash of what a signer signs: the event's type and payload without the signature itself."""
    content = {"payload": {k: v for k, v in payload.items() if k != "signer"}, "type": event_type}
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def proof_message(event_id: str, signer_id: int, badge_code: str, hash_hex: str) -> bytes:
    """Return the bytes a proof signs: the event id, the signer, the badge and the content hash."""
    return "\n".join((PROOF_VERSION, event_id, str(signer_id), badge_code, hash_hex)).encode()


def sign_key(badge_secret: str, pin_key_hex: str) -> bytes:
    """Return the key that needs both the badge (its secret) and the PIN (its slow hash)."""
    return hmac.new(badge_secret.encode(), bytes.fromhex(pin_key_hex), hashlib.sha256).digest()


def proof(badge_secret: str, pin_key_hex: str, event_id: str, signer_id: int, badge_code: str,
          hash_hex: str) -> str:
    """Return the proof for one record (hex)."""
    message = proof_message(event_id, signer_id, badge_code, hash_hex)
    return hmac.new(sign_key(badge_secret, pin_key_hex), message, hashlib.sha256).hexdigest()


def proof_matches(expected: str, given: str) -> bool:
    """Compare proofs in constant time."""
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())
