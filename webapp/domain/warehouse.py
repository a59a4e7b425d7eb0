"""Rules of the warehouse slips: entry (入库单) and issue (出库单), seed 002 §3.4-§3.8.

Pure functions over plain data: the web app's warehouse area stores the events and asks these
who may fill, sign and void a slip, what its signatures say, which copies it has, and what is
out with outside factories.

- Own parts into a store (§3.4, §3.5): the statistician fills the entry slip (the transfer clerk
  opens it with the transfer slip "to warehouse"); inspector, workshop director and keeper sign,
  in that order. One book per workshop.
- Bought-in and outsourced parts (§3.6): the keeper fills the entry slip; inspector, keeper and
  buyer sign. One book per supplier (purchasing unit).
- Production issues (§3.7): the workshop director (or the team leader) asks, the workshop
  accountant fills the issue slip and signs it, the director approves, the transfer clerk issues
  the parts and confirms the quantity. Outsourced work (§3.8, 外协): the outsourcing clerk asks
  and approves instead of the director; the parts come back on an entry slip (§3.8 注).
- The plant has no buyer (采购员) nor outsourcing clerk (外协员) role: their step is signed by
  the statistician, a workshop director or an admin, or by anyone with their staff badge and PIN.
- Each signature is bound to the hash of the slip's content. A slip's content never changes
  after it is opened (a wrong slip is voided and another one opened), so a signature over other
  content is void. Out of order and role-not-allowed signatures are kept and flagged; the slip is
  complete when every step holds a valid signature, signed in order.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from webapp.domain.roles import CAPABILITIES, Can
from webapp.domain.signing import canonical_json

KINDS = ("entry", "issue")
SOURCES = ("own", "bought", "outsourced")
STEPS = ("inspector", "director", "keeper", "buyer", "accountant", "outsourcer", "clerk")
STATUSES = ("open", "complete", "void")
ADMIN = "admin"

# Who fills (opens) each slip, by (kind, source). An issue of bought parts is no slip of its own:
# bought parts in the store leave on a production issue (§3.9), source "own".
FILLERS: dict[tuple[str, str], frozenset[str]] = {
    ("entry", "own"): frozenset({"office", "clerk", "keeper", ADMIN}),
    ("entry", "bought"): frozenset({"keeper", ADMIN}),
    ("entry", "outsourced"): frozenset({"keeper", ADMIN}),
    ("issue", "own"): frozenset({"accountant", "director", ADMIN}),
    ("issue", "outsourced"): frozenset({"accountant", "director", "office", ADMIN}),
}
# Who signs each step, by (kind, step). The director's step of an issue may be the team leader's
# (车间主任或工序班长, §3.7): the receiver role is the downstream 车间主任/班长.
SIGNERS: dict[tuple[str, str], frozenset[str]] = {
    ("entry", "inspector"): frozenset({"inspector", ADMIN}),
    ("entry", "director"): frozenset({"director", ADMIN}),
    ("entry", "keeper"): frozenset({"keeper", ADMIN}),
    ("entry", "buyer"): frozenset({"office", "director", ADMIN}),
    ("issue", "accountant"): frozenset({"accountant", ADMIN}),
    ("issue", "director"): frozenset({"director", "receiver", ADMIN}),
    ("issue", "outsourcer"): frozenset({"office", "director", ADMIN}),
    ("issue", "clerk"): frozenset({"clerk", ADMIN}),
}
# Steps of people the plant has no role for: anyone may sign them with their own badge and PIN.
BADGE_STEPS = frozenset({"buyer", "outsourcer"})
# Everyone whose work touches warehouse slips (who may open the pages).
READERS = CAPABILITIES[Can.USE_WAREHOUSE]
CONTENT_FIELDS = ("slip_id", "kind", "source", "book", "product", "work_order", "quantity", "party", "bin_codes",
                  "transfer_id")
# Flags the fold decides (and decides again when a late signature arrives).
FOLD_FLAGS = ("warehouse_out_of_order_signature", "warehouse_signature_void", "warehouse_step_not_allowed",
              "warehouse_quantity_differs", "unknown_warehouse_slip")

Order = tuple[int, str, int]  # (effective time in ms, device id, seq): the log's order


def valid_kind(kind: str, source: str) -> bool:
    """Say whether a slip of this kind may have this source (no issue slip of bought parts)."""
    return (kind, source) in FILLERS


def steps_for(kind: str, source: str) -> tuple[str, ...]:
    """Return the signatures a slip needs, in order."""
    if kind == "entry":
        return ("inspector", "director", "keeper") if source == "own" else ("inspector", "keeper", "buyer")
    return ("accountant", "outsourcer" if source == "outsourced" else "director", "clerk")


def may_fill(kind: str, source: str, role: str | None) -> bool:
    """Say whether a person in `role` may fill (open) such a slip."""
    return role in FILLERS.get((kind, source), frozenset())


def may_void(kind: str, source: str, role: str | None) -> bool:
    """Say whether a person in `role` may void such a slip: who keeps its book (its fillers) and admins."""
    return role == ADMIN or (role != "clerk" and may_fill(kind, source, role))


def may_sign(kind: str, step: str, role: str | None, verification: str = "device_user") -> bool:
    """Say whether a signer in `role` may sign `step` of a slip of `kind` (a badge and PIN proof for a buyer)."""
    if step in BADGE_STEPS and verification == "badge_pin":
        return True
    return role in SIGNERS.get((kind, step), frozenset())


def fillable(role: str | None) -> list[tuple[str, str]]:
    """Return the (kind, source) slips a person in `role` may fill."""
    return [key for key, roles in FILLERS.items() if role in roles]


def slip_content(opened: dict[str, Any]) -> dict[str, Any]:
    """Return what a slip's signatures sign: the opening's content fields (note left out), normalised.

    Texts are stripped, the product code and bin codes in capitals, bin codes sorted: the payload
    as a device sent it and as the server cleaned it give the same content, and the same hash.
    """
    content: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        value = opened.get(name)
        if isinstance(value, str):
            value = value.strip().upper() if name == "product" else value.strip()
        elif isinstance(value, list):
            value = sorted(str(v).strip().upper() for v in value)
        if value not in (None, "", []):
            content[name] = value
    return content


def content_hash(content: dict[str, Any]) -> str:
    """Return the SHA-256 (hex) of a slip's content: canonical JSON (sorted keys, no spaces, UTF-8)."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def party_key(party: str | None) -> str:
    """Return a party's name as matching compares it: spaces collapsed, case ignored."""
    return " ".join((party or "").split()).casefold()


# --- Copies (一式四联) ------------------------------------------------------------------------

# Each copy by who receives it, from the 4th to the bottom one. The bottom copy stays with who
# filled the slip: the statistician (§3.5), the keeper (§3.6), the workshop accountant (§3.7,
# "并记录": the seed names no copies for issue slips; this is our choice).
COPIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("entry", "own"): ("keeper", "chief_keeper", "cost_accountant", "statistician"),
    ("entry", "bought"): ("chief_keeper", "buyer", "material_accountant", "keeper"),
    ("entry", "outsourced"): ("chief_keeper", "buyer", "material_accountant", "keeper"),
    ("issue", "own"): ("keeper", "chief_keeper", "material_accountant", "workshop_accountant"),
    ("issue", "outsourced"): ("keeper", "chief_keeper", "material_accountant", "workshop_accountant"),
}
# The copy a role receives, first match on the slip (the plant has no chief keeper, cost or
# material accountant roles: the keeper and the workshop accountant stand nearest).
COPY_OF_ROLE: dict[str, tuple[str, ...]] = {
    "keeper": ("keeper", "chief_keeper"),
    "office": ("statistician", "buyer"),
    "director": ("buyer",),
    "accountant": ("workshop_accountant", "cost_accountant", "material_accountant"),
}


def copies_of(kind: str, source: str) -> tuple[str, ...]:
    """Return a slip's four copies, 4th first, bottom copy last."""
    return COPIES.get((kind, source), COPIES[("entry", "own")])


def copy_number(kind: str, source: str, copy: str) -> int:
    """Return a copy's number on the slip: 4, 3, 2, or 1 for the bottom copy (底联)."""
    return 4 - copies_of(kind, source).index(copy)


def copy_for(kind: str, source: str, role: str | None, asked: str | None = None) -> str:
    """Return the copy to show: the one asked for when the slip has it, else the role's, else the 4th."""
    copies = copies_of(kind, source)
    if asked in copies:
        return str(asked)
    return next((c for c in COPY_OF_ROLE.get(role or "", ()) if c in copies), copies[0])


# --- Signatures folded in log order ---------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    """One signature on a warehouse slip, as the log has it."""

    order: Order
    event_id: str
    step: str
    role: str | None  # the signer's role when they signed
    content_hash: str  # the content the signer saw
    quantity: int
    verification: str = "device_user"  # device_user | badge_pin | unverified


@dataclass
class SlipFold:
    """What a slip's signatures say, folded in log order."""

    steps: tuple[str, ...] = ()
    status: str = "open"  # open | complete (a void slip is void whatever its signatures say)
    valid: dict[str, Signed] = field(default_factory=dict)  # step -> the signature that holds
    # event id -> valid | replaced | void | out_of_order | wrong_step
    states: dict[str, str] = field(default_factory=dict)
    flags: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    next_step: str | None = None
    completed_by: Signed | None = None

    def flag(self, event_id: str, code: str, **detail: Any) -> None:
        """Add a flag to a signature."""
        self.flags.setdefault(event_id, []).append((code, detail))


def fold_signatures(kind: str, source: str, quantity: int, current_hash: str, signatures: list[Signed]) -> SlipFold:
    """Fold a slip's signatures in log order: each one's state and flags, the next step, the status.

    A signature over other content than the slip's is void. One whose step comes before a step
    already signed, or skips one, is out of order (kept, flagged, and it does not count); so is a
    step signed again under later ones. Signing a step again otherwise replaces the earlier
    signature. A signer whose role may not sign the step is flagged and still counts (the office
    decides), as is a signed quantity that differs from the slip's.
    """
    steps = steps_for(kind, source)
    fold = SlipFold(steps=steps)
    for sig in sorted(signatures, key=lambda s: s.order):
        if sig.step not in steps:  # a step this kind of slip does not have (a buyer on an own entry)
            fold.states[sig.event_id] = "wrong_step"
            fold.flag(sig.event_id, "warehouse_step_not_allowed", step=sig.step, role=sig.role)
            continue
        if not may_sign(kind, sig.step, sig.role, sig.verification):
            fold.flag(sig.event_id, "warehouse_step_not_allowed", step=sig.step, role=sig.role)
        if sig.content_hash != current_hash:
            fold.states[sig.event_id] = "void"
            fold.flag(sig.event_id, "warehouse_signature_void", step=sig.step)
            continue
        expected = next((s for s in steps if s not in fold.valid), None)
        later_signed = any(steps.index(s) > steps.index(sig.step) for s in fold.valid)
        if (sig.step not in fold.valid and sig.step != expected) or (sig.step in fold.valid and later_signed):
            fold.states[sig.event_id] = "out_of_order"
            fold.flag(sig.event_id, "warehouse_out_of_order_signature", step=sig.step, expected=expected)
            continue
        replaced = fold.valid.get(sig.step)
        if replaced is not None:
            fold.states[replaced.event_id] = "replaced"
        fold.valid[sig.step] = sig
        fold.states[sig.event_id] = "valid"
    for sig in fold.valid.values():
        if sig.quantity != quantity:
            fold.flag(sig.event_id, "warehouse_quantity_differs", step=sig.step, quantity=quantity,
                      signed=sig.quantity)
    fold.next_step = next((s for s in steps if s not in fold.valid), None)
    if fold.next_step is None:
        fold.status = "complete"
        fold.completed_by = max(fold.valid.values(), key=lambda s: s.order)
    return fold


# --- Out with outsourcers (外协) -----------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """An outsourced slip: parts out to a party (issue) or back from it (entry)."""

    key: str  # the caller's id of the slip
    party: str
    product: str
    quantity: int
    at: datetime  # out: when the parts left; back: when the keeper took them in


@dataclass(frozen=True)
class StillOut:
    """An issue not yet matched by entries: how many of its pieces are still with the party."""

    out: Movement
    remaining: int


@dataclass(frozen=True)
class Surplus:
    """More came back from a party than went out (a return without its issue slip, or a miscount)."""

    party: str
    product: str
    quantity: int


def still_out(outs: list[Movement], backs: list[Movement]) -> tuple[list[StillOut], list[Surplus]]:
    """Match returns to issues and return what is still out, oldest first, and any surplus.

    Matching: an entry slip matches issue slips of the same party (names compared with spaces
    collapsed and case ignored) and the same product; what comes back settles the oldest issue
    first, whatever slip it names (paper slips name no issue), and a partial return leaves the
    rest of that issue out. Returns are counted whenever they came: a clock that puts one before
    its issue changes nothing.
    """
    groups: dict[tuple[str, str], list[Movement]] = defaultdict(list)
    for out in outs:
        groups[party_key(out.party), out.product].append(out)
    returned: dict[tuple[str, str], int] = defaultdict(int)
    names: dict[tuple[str, str], Movement] = {}
    for back in backs:
        returned[party_key(back.party), back.product] += back.quantity
        names.setdefault((party_key(back.party), back.product), back)
    remaining: list[StillOut] = []
    surplus: list[Surplus] = []
    for key in sorted(set(groups) | set(returned)):
        left = returned.get(key, 0)
        for out in sorted(groups.get(key, []), key=lambda m: (m.at, m.key)):
            settled = min(left, out.quantity)
            left -= settled
            if out.quantity > settled:
                remaining.append(StillOut(out, out.quantity - settled))
        if left > 0:
            sample = names[key]
            surplus.append(Surplus(sample.party, sample.product, left))
    remaining.sort(key=lambda s: (s.out.at, s.out.key))
    return remaining, surplus
