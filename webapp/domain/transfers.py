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
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


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
