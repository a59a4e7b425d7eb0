"""Rules of the transfer slip (转序单, shared/domain.md "The transfer slip", seed 002 §3.2, §3.3, §5.4).

Pure functions over plain data: the web app's transfers area (issue 15) stores the events and
asks these what a slip's state is. Decided from the log, in log order, whatever order the
signatures arrive in.

- Four sign-offs, in this order: the clerk (quantity), the inspector (quality verdict), the
  upstream operator (releases the quantity), the downstream receiver (accepts it).
- Each signature is bound to the hash of the slip's content when it was signed; a change of the
  content after a signature voids that signature and every later one.
- A signature out of order is kept and flagged; the slip is complete only when all four steps
  hold a valid signature, signed in order.
- §5.4: a quantity leaving that differs from what came in waits as a discrepancy until the
  upstream operator explains it (or the statistician books it as scrap).
- §3.3: parts of one similar-specification group never share a slip, nor go to one destination
  within the mix-up interval.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from webapp.domain.signing import canonical_json

STEPS = ("clerk", "inspector", "operator", "receiver")
# Who may sign each step (roles as webapp.domain.roles names them); a director or admin may stand in.
STEP_ROLES: dict[str, frozenset[str]] = {
    "clerk": frozenset({"clerk", "admin"}),
    "inspector": frozenset({"inspector", "admin"}),
    "operator": frozenset({"operator", "director", "admin"}),
    "receiver": frozenset({"receiver", "director", "admin"}),
}
MIXUP_INTERVAL = timedelta(minutes=30)

Order = tuple[int, str, int]  # (effective time in ms, device id, seq): the log's order


def content_hash(content: dict[str, Any]) -> str:
    """Return the SHA-256 (hex) of a slip's content, the same on every device: sorted keys, no spaces, UTF-8."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


@dataclass(frozen=True)
class Signature:
    """One sign-off as the log has it."""

    order: Order
    event_id: str
    step: str
    role: str  # the signer's role when they signed
    content_hash: str  # the slip's content the signer saw
    quantity: int
    verdict: str | None = None  # the inspector's: "pass" or "fail"


@dataclass
class SlipState:
    """What a slip's signatures say, folded in log order."""

    status: str = "open"  # open | discrepancy | refused | complete
    valid: dict[str, Signature] = field(default_factory=dict)  # step -> the signature that holds
    void: list[str] = field(default_factory=list)  # event ids signed over content since changed
    out_of_order: list[str] = field(default_factory=list)
    not_allowed: list[str] = field(default_factory=list)  # signer's role may not sign that step
    next_step: str | None = STEPS[0]


def fold_signatures(signatures: list[Signature], current_hash: str) -> SlipState:
    """Fold a slip's signatures in log order against its current content.

    A signature over other content than the slip's current one is void; a signature whose step
    comes before a step already signed, or skips one, is out of order (kept, flagged, and it does
    not count). A later valid signature of a step replaces an earlier one.
    """
    state = SlipState()
    for sig in sorted(signatures, key=lambda s: s.order):
        if sig.step not in STEPS:
            continue
        if sig.role not in STEP_ROLES[sig.step]:
            state.not_allowed.append(sig.event_id)
        if sig.content_hash != current_hash:
            state.void.append(sig.event_id)
            continue
        expected = next((step for step in STEPS if step not in state.valid), None)
        if sig.step != expected and sig.step not in state.valid:
            state.out_of_order.append(sig.event_id)
            continue
        if sig.step in state.valid and STEPS.index(sig.step) < len(state.valid) - 1:
            state.out_of_order.append(sig.event_id)  # re-signing a step under later ones
            continue
        state.valid[sig.step] = sig
    state.next_step = next((step for step in STEPS if step not in state.valid), None)
    if state.next_step is None:
        state.status = "complete"
    return state


def quantity_differs(came_in: int | None, leaving: int) -> bool:
    """Say whether the quantity leaving an operation differs from what came in (§5.4); unknown input: no."""
    return came_in is not None and came_in != leaving


@dataclass(frozen=True)
class Sent:
    """A slip already on its way: which part group, where to, when."""

    slip_id: str
    part: str
    spec_group: str | None
    destination: str
    at: datetime


def mixup_risk(part: str, spec_group: str | None, destination: str, at: datetime, recent: list[Sent],
               interval: timedelta = MIXUP_INTERVAL) -> Sent | None:
    """Return a slip that makes sending this part a mix-up risk (§3.3), or None.

    Parts of one similar-specification group, other than this part, sent to the same destination
    within `interval` before or after: the slip names the other part so the clerk can say which.
    """
    if spec_group is None:
        return None
    for other in recent:
        if (other.spec_group == spec_group and other.part != part and other.destination == destination
                and abs(other.at - at) <= interval):
            return other
    return None


def mixed_on_one_slip(parts: list[tuple[str, str | None]]) -> tuple[str, str] | None:
    """Return two different parts of one group that a slip would carry together (never allowed), or None."""
    seen: dict[str, str] = {}
    for part, group in parts:
        if group is None:
            continue
        if group in seen and seen[group] != part:
            return seen[group], part
        seen.setdefault(group, part)
    return None


# --- A slip folded from its log -------------------------------------------------------------

CONTENT_FIELDS = ("transfer_id", "bin_codes", "to", "quantity", "part")
# Flags the fold decides (and re-decides when a late event arrives): each event's current ones.
FOLD_FLAGS = ("out_of_order_signature", "signature_void", "step_not_allowed", "transfer_discrepancy",
              "unknown_transfer")
# Who may explain: a difference (§5.4) the upstream operator; a return, replacement or swap (§5.3)
# the inspector or the workshop director. Admins may do either.
EXPLAINS_DIFFERENCE = frozenset({"operator", "director", "admin"})
EXPLAINS_RETURN = frozenset({"inspector", "director", "admin"})


def slip_content(opened: dict[str, Any]) -> dict[str, Any]:
    """Return what a slip's signatures sign: the opening payload's content, bin codes sorted."""
    content = {k: opened[k] for k in CONTENT_FIELDS if opened.get(k) is not None}
    content["bin_codes"] = sorted(content.get("bin_codes", []))
    return content


@dataclass(frozen=True)
class Entry:
    """One event of a slip as the log has it. `role`: the signer's (signed) or the actor's role then."""

    order: Order
    event_id: str
    kind: str  # opened | signed | explained | refused | written_off
    person_id: int
    role: str | None
    payload: dict[str, Any]
    verification: str = "device_user"  # device_user | badge_pin | unverified


@dataclass
class SlipFold:
    """A slip as its log says it is now."""

    content: dict[str, Any] | None = None  # None: the opening has not arrived
    content_hash: str | None = None
    opened: Entry | None = None  # the latest opening (the one whose content holds)
    first_opened: Entry | None = None
    status: str = "open"  # open | discrepancy | refused | complete
    signatures: SlipState = field(default_factory=SlipState)
    states: dict[str, str] = field(default_factory=dict)  # signature event id -> valid | void | out_of_order
    flags: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    differs: bool = False  # a signed quantity differs from the slip's (§5.4)
    received: int | None = None  # what the receiver accepted
    explanation: Entry | None = None
    written_off: Entry | None = None
    refusal: Entry | None = None
    completed_by: str | None = None  # the event whose order places the move (complete slips)

    def flag(self, event_id: str, code: str, **detail: Any) -> None:
        """Add a flag to an event."""
        self.flags.setdefault(event_id, []).append((code, detail))


def fold_slip(entries: list[Entry], is_return: bool = False) -> SlipFold:
    """Fold a slip's events in log order: its content, its signatures' states, its status and flags.

    The latest opening in the log gives the content; signatures are judged against it
    (`fold_signatures`). Complete with four valid signatures, unless a signed quantity differs
    from the slip's (then `discrepancy` until the upstream operator explains it or the
    statistician writes the difference off) or the slip is a return (§5.3: waits for the
    inspector's or the director's explanation). A refusal ends the slip as `refused`.
    """
    fold = SlipFold()
    ordered = sorted(entries, key=lambda e: e.order)
    signed: list[Signature] = []
    for entry in ordered:
        if entry.kind == "opened":
            fold.opened = entry
            fold.first_opened = fold.first_opened or entry
        elif entry.kind == "signed":
            p = entry.payload
            signed.append(Signature(entry.order, entry.event_id, p["step"], entry.role or "", p["content_hash"],
                                    p["quantity"], p.get("verdict")))
        elif entry.kind == "refused" and fold.refusal is None:
            fold.refusal = entry
        elif entry.kind == "written_off" and fold.written_off is None:
            fold.written_off = entry
        elif entry.kind == "explained" and fold.explanation is None:
            if entry.role in (EXPLAINS_RETURN if is_return else EXPLAINS_DIFFERENCE):
                fold.explanation = entry
    if fold.opened is None:
        for sig in signed:
            fold.flag(sig.event_id, "unknown_transfer")
        return fold
    fold.content = slip_content(fold.opened.payload)
    fold.content_hash = content_hash(fold.content)
    state = fold_signatures(signed, fold.content_hash)
    fold.signatures = state
    for sig in signed:
        if sig.event_id in state.void:
            fold.states[sig.event_id] = "void"
            fold.flag(sig.event_id, "signature_void", step=sig.step)
        elif sig.event_id in state.out_of_order:
            fold.states[sig.event_id] = "out_of_order"
            fold.flag(sig.event_id, "out_of_order_signature", step=sig.step,
                      expected=_expected_before(signed, sig, state))
        else:
            fold.states[sig.event_id] = "valid" if state.valid.get(sig.step) == sig else "replaced"
        if sig.event_id in state.not_allowed:
            fold.flag(sig.event_id, "step_not_allowed", step=sig.step, role=sig.role)
    quantity = fold.content.get("quantity")
    receiver = state.valid.get("receiver")
    fold.received = receiver.quantity if receiver else None
    fold.differs = any(s.quantity != quantity for s in state.valid.values())
    if fold.refusal is not None:
        fold.status = "refused"
    elif state.status == "complete":
        last = max(state.valid.values(), key=lambda s: s.order)
        if fold.differs:
            fold.flag(last.event_id, "transfer_discrepancy", quantity=quantity, received=fold.received,
                      signed={s.step: s.quantity for s in state.valid.values()})
        settled = fold.explanation is not None or (fold.written_off is not None and not is_return)
        waiting = (fold.differs or is_return) and not settled
        fold.status = "discrepancy" if waiting else "complete"
        if fold.status == "complete":
            ends = [last.order] + [e.order for e in (fold.explanation, fold.written_off) if e is not None]
            fold.completed_by = next(e.event_id for e in ordered if e.order == max(ends))
    return fold


def _expected_before(signed: list[Signature], sig: Signature, state: SlipState) -> str | None:
    """Return the step that should have been signed before `sig` (for the flag's detail)."""
    before = {s.step for s in signed if s.order < sig.order and s.event_id not in state.void}
    return next((step for step in STEPS if step not in before), None)
