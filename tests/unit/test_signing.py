"""The signing scheme's plain rules: PINs, badge texts, the proof's binding."""

import pytest

from webapp.domain import signing


@pytest.mark.parametrize("pin", ["2580", "1357", "90210", "31415926", "1243"])
def test_pins_people_may_choose(pin):
    assert signing.check_pin(pin) == pin


@pytest.mark.parametrize("pin,reason", [
    ("123", "format"), ("123456789", "format"), ("12a4", "format"), ("", "format"), ("１２３４", "format"),
    ("0000", "too_simple"), ("1234", "too_simple"), ("98765", "too_simple"), ("77777777", "too_simple"),
])
def test_pins_refused(pin, reason):
    with pytest.raises(signing.PinRefused) as refused:
        signing.check_pin(pin)
    assert refused.value.reason == reason


def test_a_badge_reads_back_and_other_text_is_not_a_badge():
    badge = signing.new_badge(42)
    assert signing.parse_badge(badge.text()) == badge
    assert not badge.text().startswith("http")  # a phone's camera app must not open it
    for text in ("https://x/b/B00001Z", "SFB1:42:abc:def", badge.text() + "x", "SFB1:0:AAAAAAAA:" + "a" * 43):
        assert signing.parse_badge(text) is None


def test_the_proof_changes_with_each_thing_it_binds():
    badge = signing.new_badge(7)
    key = signing.pin_key("2580", signing.new_salt())
    h = signing.content_hash("bin.counted", {"bin_code": "B00001Z", "quantity": 5})
    base = signing.proof(badge.secret, key, "e1", 7, badge.code, h)
    assert signing.proof(badge.secret, key, "e2", 7, badge.code, h) != base
    assert signing.proof(badge.secret, key, "e1", 8, badge.code, h) != base
    assert signing.proof(badge.secret, key, "e1", 7, badge.code, "0" * 64) != base
    assert signing.proof(signing.new_badge(7).secret, key, "e1", 7, badge.code, h) != base  # another badge
    other_pin = signing.pin_key("2581", signing.new_salt())
    assert signing.proof(badge.secret, other_pin, "e1", 7, badge.code, h) != base


def test_the_content_hash_ignores_the_signature_and_key_order():
    a = signing.content_hash("bin.counted", {"quantity": 5, "bin_code": "B", "signer": {"proof": "x"}})
    b = signing.content_hash("bin.counted", {"bin_code": "B", "quantity": 5})
    assert a == b and a != signing.content_hash("bin.moved", {"bin_code": "B", "quantity": 5})
