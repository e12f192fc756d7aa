"""The loop rules, pure: which automatic mails may go where, and where agents' replies go."""

import pytest

from helpdesk.mail import loops

OWN = ["support@help.example", "billing@help.example"]
LIMITS = loops.Limits(per_recipient=5, per_ticket=10)


def _decide(address, **facts):
    values = {
        "own_addresses": OWN,
        "bouncing": False,
        "answers_automatic_mail": False,
        "sent_to_recipient": 0,
        "sent_for_ticket": 0,
        "limits": LIMITS,
    }
    return loops.may_send_automatic(address, **{**values, **facts})


def test_an_ordinary_customer_gets_automatic_mail():
    decision = _decide("ada@client.example")
    assert decision and decision.reason == "ok"


@pytest.mark.parametrize(
    "address",
    [
        "support@help.example",
        "SUPPORT@Help.Example",
        "support+t1042.abcdefghij@help.example",
        "billing@help.example",
    ],
)
def test_never_to_our_own_addresses_plus_addressed_or_not(address):
    decision = _decide(address)
    assert not decision and decision.reason == "one of our own addresses"


def test_a_lookalike_of_our_address_is_a_customer():
    assert _decide("support-team@help.example")  # not "+": another mailbox
    assert _decide("support@help.example.evil")
    assert not _decide("support-x@help.example", separator="-")


@pytest.mark.parametrize(
    "address",
    [
        "MAILER-DAEMON@mx.client.example",
        "postmaster@client.example",
        "no-reply@shop.example",
        "noreply@shop.example",
        "do-not-reply@shop.example",
        "donotreply@shop.example",
        "bounces+1234-ada=client.example@lists.example",
        "not-an-address",
        "",
        None,
    ],
)
def test_never_to_mail_systems_or_no_reply_addresses(address):
    assert not _decide(address)


def test_never_to_a_bouncing_address_or_in_answer_to_automatic_mail():
    assert _decide("ada@client.example", bouncing=True).reason == "the address bounces"
    answer = _decide("ada@client.example", answers_automatic_mail=True)
    assert not answer and answer.reason == "the mail it answers was automatic"


def test_the_rate_limits_stop_at_the_limit_not_before():
    assert _decide("ada@client.example", sent_to_recipient=4)
    assert not _decide("ada@client.example", sent_to_recipient=5)
    assert _decide("ada@client.example", sent_for_ticket=9)
    refused = _decide("ada@client.example", sent_for_ticket=10)
    assert not refused and refused.reason.startswith("rate limit")


def test_agents_replies_go_to_everyone_once_but_never_to_us_or_a_mailer_daemon():
    recipients = loops.reply_recipients(
        [
            "Ada@Client.example",
            "noreply@shop.example",  # a person chose to answer it
            "ada@client.example",
            "support+t7.abcdefghij@help.example",
            "mailer-daemon@mx.client.example",
            None,
            "bob@client.example",
        ],
        OWN,
    )
    assert recipients == ["ada@client.example", "noreply@shop.example", "bob@client.example"]


def test_automatic_mail_headers_follow_rfc_3834():
    assert loops.AUTO_REPLY_HEADERS == {
        "Auto-Submitted": "auto-replied",
        "X-Auto-Response-Suppress": "All",
    }
    assert loops.AUTO_GENERATED_HEADERS["Auto-Submitted"] == "auto-generated"
