import base64
import hashlib
import hmac

from helpdesk.mail import tokens

SECRET = "s3cret"


def _expected_sig(number: int) -> str:
    key = hmac.new(SECRET.encode(), b"helpdesk reply token", hashlib.sha256).digest()
    mac = hmac.new(key, f"ticket:{number}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode().lower()[:10]


def test_token_has_the_contract_shape():
    token = tokens.reply_token(1042, SECRET)
    assert token == f"t1042.{_expected_sig(1042)}"
    assert len(token.split(".")[1]) == 10


def test_a_token_verifies_and_names_its_ticket():
    assert tokens.verify_token(tokens.reply_token(1042, SECRET), SECRET) == 1042


def test_a_token_for_another_ticket_or_key_is_refused():
    forged = "t1043." + tokens.reply_token(1042, SECRET).split(".")[1]
    assert tokens.verify_token(forged, SECRET) is None
    assert tokens.verify_token(tokens.reply_token(1042, "other key"), SECRET) is None
    assert tokens.verify_token("t1042.abc", SECRET) is None


def test_tokens_are_found_in_message_ids_and_plus_addresses():
    mid = tokens.message_id(7, SECRET, "help.example.com")
    assert mid.startswith("<t7.") and mid.endswith("@help.example.com>")
    assert tokens.find_tokens(f"<unrelated@x> {mid}", SECRET) == [7]
    address = tokens.reply_to_address("support@example.com", 7, SECRET)
    assert address.startswith("support+t7.") and address.endswith("@example.com")
    assert tokens.find_tokens(address.upper(), SECRET) == [7]


def test_two_message_ids_for_one_ticket_differ():
    assert tokens.message_id(7, SECRET, "h") != tokens.message_id(7, SECRET, "h")
