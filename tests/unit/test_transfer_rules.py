"""The transfer slip's rules (webapp/domain/transfers.py): four sign-offs in order, content hashes, mix-ups."""

from datetime import UTC, datetime, timedelta

from webapp.domain.transfers import (
    STEPS, Sent, Signature, content_hash, fold_signatures, mixed_on_one_slip, mixup_risk, quantity_differs,
)

SLIP = {"transfer_id": "t1", "bin_codes": ["B00001Z"], "quantity": 120, "to": {"next": True}}
H = content_hash(SLIP)
ROLE = {"clerk": "clerk", "inspector": "inspector", "operator": "operator", "receiver": "receiver"}


def sig(n: int, step: str, h: str = H, role: str | None = None, device: str = "d1") -> Signature:
    return Signature((1000 * n, device, n), f"e{n}", step, role or ROLE[step], h, 120,
                     "pass" if step == "inspector" else None)


def test_the_hash_is_the_same_whatever_the_key_order_and_changes_with_the_content():
    assert content_hash(dict(reversed(list(SLIP.items())))) == H
    assert content_hash({**SLIP, "quantity": 119}) != H
    assert len(H) == 64


def test_four_signatures_in_order_complete_the_slip():
    state = fold_signatures([sig(i, step) for i, step in enumerate(STEPS, 1)], H)
    assert state.status == "complete" and state.next_step is None
    assert not state.out_of_order and not state.void and not state.not_allowed


def test_the_order_of_arrival_does_not_matter_only_the_log_order():
    signatures = [sig(i, step) for i, step in enumerate(STEPS, 1)]
    assert fold_signatures(list(reversed(signatures)), H).status == "complete"


def test_a_signature_out_of_order_is_kept_flagged_and_does_not_count():
    state = fold_signatures([sig(1, "clerk"), sig(2, "operator"), sig(3, "inspector")], H)
    assert state.out_of_order == ["e2"] and state.status == "open" and state.next_step == "operator"
    state = fold_signatures([sig(1, "clerk"), sig(2, "inspector"), sig(3, "operator"), sig(4, "clerk"),
                             sig(5, "receiver")], H)
    assert state.out_of_order == ["e4"] and state.status == "complete"  # re-signing under later steps


def test_a_change_of_the_slip_voids_the_signatures_over_the_old_content():
    changed = content_hash({**SLIP, "quantity": 118})
    state = fold_signatures([sig(1, "clerk"), sig(2, "inspector"), sig(3, "clerk", changed)], changed)
    assert state.void == ["e1", "e2"] and state.next_step == "inspector" and state.status == "open"


def test_a_signer_whose_role_may_not_sign_the_step_is_flagged_not_dropped():
    state = fold_signatures([sig(1, "clerk"), sig(2, "inspector", role="clerk")], H)
    assert state.not_allowed == ["e2"] and "inspector" in state.valid


def test_a_difference_between_what_came_in_and_what_leaves():
    assert quantity_differs(120, 118) and not quantity_differs(120, 120) and not quantity_differs(None, 5)


def test_parts_of_one_group_never_share_a_slip_nor_a_destination_within_the_interval():
    at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    sent = [Sent("t0", "half-shaft", "G1", "OP20", at)]
    other = mixup_risk("housing", "G1", "OP20", at + timedelta(minutes=29), sent)
    assert other is not None and other.part == "half-shaft"
    assert mixup_risk("housing", "G1", "OP20", at + timedelta(minutes=31), sent) is None
    assert mixup_risk("housing", "G1", "OP30", at, sent) is None
    assert mixup_risk("half-shaft", "G1", "OP20", at, sent) is None  # the same part again
    assert mixup_risk("gear", None, "OP20", at, sent) is None
    assert mixed_on_one_slip([("half-shaft", "G1"), ("gear", None), ("housing", "G1")]) == ("half-shaft", "housing")
    assert mixed_on_one_slip([("half-shaft", "G1"), ("half-shaft", "G1")]) is None
