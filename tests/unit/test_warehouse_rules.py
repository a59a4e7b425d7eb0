"""The warehouse slips' rules (webapp/domain/warehouse.py): who fills, signs and voids; signatures in order
per kind; content hashes; the four copies; what is out with outsourcers."""

from datetime import UTC, datetime, timedelta

import pytest

from webapp.domain.warehouse import (
    Movement, Signed, content_hash, copies_of, copy_for, copy_number, fillable, fold_signatures, may_fill, may_sign,
    may_void, slip_content, steps_for, still_out, valid_kind,
)

SLIP = {"slip_id": "s1", "kind": "entry", "source": "own", "book": "W1", "product": "HS-01", "quantity": 40}
H = content_hash(slip_content(SLIP))
ROLE = {"inspector": "inspector", "director": "director", "keeper": "keeper", "buyer": "office",
        "accountant": "accountant", "outsourcer": "office", "clerk": "clerk"}


def sig(n: int, step: str, h: str = H, role: str | None = None, quantity: int = 40,
        verification: str = "device_user") -> Signed:
    return Signed((1000 * n, "d1", n), f"e{n}", step, role or ROLE[step], h, quantity, verification)


@pytest.mark.parametrize(("kind", "source", "steps"), [
    ("entry", "own", ("inspector", "director", "keeper")),  # §3.5
    ("entry", "bought", ("inspector", "keeper", "buyer")),  # §3.6
    ("entry", "outsourced", ("inspector", "keeper", "buyer")),  # §3.6, §3.8 注
    ("issue", "own", ("accountant", "director", "clerk")),  # §3.7
    ("issue", "outsourced", ("accountant", "outsourcer", "clerk")),  # §3.8
])
def test_each_kind_of_slip_is_signed_in_its_order_and_completes(kind, source, steps):
    assert steps_for(kind, source) == steps
    fold = fold_signatures(kind, source, 40, H, [sig(i, step) for i, step in enumerate(steps, 1)])
    assert fold.status == "complete" and fold.next_step is None and not fold.flags
    assert fold.completed_by.step == steps[-1]
    assert fold_signatures(kind, source, 40, H, [sig(i, step) for i, step in enumerate(reversed(steps), 1)]
                           ).status == "open"  # the log's order counts, not the arrival


def test_the_order_of_arrival_does_not_matter_only_the_log_order():
    signatures = [sig(i, step) for i, step in enumerate(("inspector", "director", "keeper"), 1)]
    assert fold_signatures("entry", "own", 40, H, list(reversed(signatures))).status == "complete"


def test_a_signature_out_of_order_is_kept_flagged_and_does_not_count():
    fold = fold_signatures("entry", "own", 40, H, [sig(1, "inspector"), sig(2, "keeper"), sig(3, "director")])
    assert fold.states == {"e1": "valid", "e2": "out_of_order", "e3": "valid"}
    assert fold.flags == {"e2": [("warehouse_out_of_order_signature", {"step": "keeper", "expected": "director"})]}
    assert fold.status == "open" and fold.next_step == "keeper"
    # Signed again under a later step: out of order; signed again before the next one: replaces.
    fold = fold_signatures("entry", "own", 40, H, [sig(1, "inspector"), sig(2, "director"), sig(3, "inspector"),
                                                   sig(4, "keeper")])
    assert fold.states["e3"] == "out_of_order" and fold.status == "complete"
    fold = fold_signatures("entry", "own", 40, H, [sig(1, "inspector"), sig(2, "inspector")])
    assert fold.states == {"e1": "replaced", "e2": "valid"} and fold.valid["inspector"].event_id == "e2"


def test_a_step_the_kind_does_not_have_is_flagged():
    fold = fold_signatures("entry", "own", 40, H, [sig(1, "inspector"), sig(2, "buyer")])
    assert fold.states["e2"] == "wrong_step" and fold.flags["e2"][0][0] == "warehouse_step_not_allowed"
    assert fold.next_step == "director"


def test_a_signature_over_other_content_is_void():
    other = content_hash(slip_content({**SLIP, "quantity": 39}))
    fold = fold_signatures("entry", "own", 40, H, [sig(1, "inspector", other), sig(2, "inspector")])
    assert fold.states == {"e1": "void", "e2": "valid"}
    assert fold.flags["e1"] == [("warehouse_signature_void", {"step": "inspector"})]


def test_a_signer_whose_role_may_not_sign_the_step_is_flagged_and_still_counts():
    fold = fold_signatures("entry", "own", 40, H, [sig(1, "inspector", role="clerk")])
    assert fold.flags["e1"] == [("warehouse_step_not_allowed", {"step": "inspector", "role": "clerk"})]
    assert "inspector" in fold.valid and fold.next_step == "director"


def test_the_buyer_signs_from_the_office_a_director_an_admin_or_anyone_with_badge_and_pin():
    for role in ("office", "director", "admin"):
        assert may_sign("entry", "buyer", role)
    assert not may_sign("entry", "buyer", "operator")
    assert may_sign("entry", "buyer", "operator", "badge_pin") and may_sign("issue", "outsourcer", None, "badge_pin")
    assert not may_sign("entry", "keeper", "operator", "badge_pin")  # a role's step needs the role
    fold = fold_signatures("entry", "bought", 40, H, [sig(1, "inspector"), sig(2, "keeper"),
                                                      sig(3, "buyer", role="follower", verification="badge_pin")])
    assert fold.status == "complete" and not fold.flags


def test_the_team_leader_may_approve_an_issue_but_not_an_entry():
    assert may_sign("issue", "director", "receiver") and not may_sign("entry", "director", "receiver")


def test_a_signed_quantity_that_differs_is_flagged():
    signatures = [sig(1, "accountant"), sig(2, "director"), sig(3, "clerk", quantity=38)]
    fold = fold_signatures("issue", "own", 40, H, signatures)
    assert fold.status == "complete"
    assert fold.flags["e3"] == [("warehouse_quantity_differs", {"step": "clerk", "quantity": 40, "signed": 38})]


@pytest.mark.parametrize(("role", "kinds"), [
    ("office", [("entry", "own"), ("issue", "outsourced")]),
    ("clerk", [("entry", "own")]),
    ("keeper", [("entry", "own"), ("entry", "bought"), ("entry", "outsourced")]),
    ("accountant", [("issue", "own"), ("issue", "outsourced")]),
    ("director", [("issue", "own"), ("issue", "outsourced")]),
    ("inspector", []), ("operator", []), ("follower", []), ("receiver", []),
])
def test_who_fills_which_slip(role, kinds):
    assert fillable(role) == kinds
    assert all(may_fill(k, s, role) for k, s in kinds)


def test_who_voids_and_no_issue_of_bought_parts():
    assert may_void("entry", "own", "office") and may_void("entry", "own", "keeper")
    assert may_void("issue", "own", "accountant") and may_void("issue", "own", "admin")
    assert not may_void("entry", "own", "clerk")  # the clerk opens it with the transfer, the book is the office's
    assert not may_void("issue", "own", "keeper") and not may_void("entry", "bought", "office")
    assert not valid_kind("issue", "bought") and valid_kind("issue", "outsourced")


def test_the_content_is_the_same_as_sent_and_as_cleaned_and_leaves_the_note_out():
    sent = {**SLIP, "product": " hs-01 ", "bin_codes": ["b00002x", "B00001Z "], "note": "careful", "party": ""}
    cleaned = {**SLIP, "bin_codes": ["B00001Z", "B00002X"]}
    assert slip_content(sent) == slip_content(cleaned) == {**SLIP, "bin_codes": ["B00001Z", "B00002X"]}
    assert content_hash(slip_content(dict(reversed(list(cleaned.items()))))) == content_hash(slip_content(cleaned))
    assert content_hash(slip_content({**SLIP, "quantity": 41})) != H and len(H) == 64


def test_four_copies_per_kind_and_the_copy_each_role_receives():
    assert copies_of("entry", "own") == ("keeper", "chief_keeper", "cost_accountant", "statistician")  # §3.5
    assert copies_of("entry", "bought") == ("chief_keeper", "buyer", "material_accountant", "keeper")  # §3.6
    assert [copy_number("entry", "own", c) for c in copies_of("entry", "own")] == [4, 3, 2, 1]
    assert copy_for("entry", "own", "keeper") == "keeper" and copy_for("entry", "bought", "keeper") == "keeper"
    assert copy_for("entry", "own", "office") == "statistician" and copy_for("entry", "bought", "office") == "buyer"
    assert copy_for("issue", "own", "accountant") == "workshop_accountant"
    assert copy_for("entry", "own", "accountant") == "cost_accountant"
    assert copy_for("entry", "own", "inspector") == "keeper"  # no copy of their own: the 4th
    assert copy_for("entry", "own", "keeper", "statistician") == "statistician"
    assert copy_for("entry", "own", "keeper", "buyer") == "keeper"  # a copy this slip does not have


T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def out(key, party, quantity, day, product="HS-01"):
    return Movement(key, party, product, quantity, T0 + timedelta(days=day))


def test_returns_settle_the_oldest_issue_first_per_party_and_product():
    outs = [out("i1", "宏达 Hongda", 100, 0), out("i2", "宏达  HONGDA", 50, 2), out("i3", "Other", 30, 1),
            out("i4", "宏达 Hongda", 20, 3, product="GS-02")]
    backs = [out("e1", "宏达 hongda ", 120, 4)]
    remaining, surplus = still_out(outs, backs)
    assert [(s.out.key, s.remaining) for s in remaining] == [("i3", 30), ("i2", 30), ("i4", 20)]
    assert surplus == []


def test_a_return_beyond_what_went_out_is_surplus_and_nothing_out_means_an_empty_list():
    remaining, surplus = still_out([out("i1", "A", 10, 0)], [out("e1", "A", 15, 1), out("e2", "B", 5, 1)])
    assert remaining == [] and [(s.party, s.quantity) for s in surplus] == [("A", 5), ("B", 5)]
    assert still_out([], []) == ([], [])
