"""The threading rules on their own: which ticket a mail belongs to, and the reason given.

Pure code: the database's answers come from a small in-memory table of tickets.
"""

from dataclasses import dataclass, field

from helpdesk.mail.parse import ParsedMail
from helpdesk.mail.threading import decide, decide_bounce
from helpdesk.mail.tokens import message_id, reply_to_address, reply_token

SECRET = "threading-test-secret"


@dataclass
class Tickets:
    """Tickets by number: their people, their mails' Message-IDs, and merges."""

    people: dict[int, set[str]] = field(default_factory=dict)
    message_ids: dict[str, int] = field(default_factory=dict)
    merges: dict[int, int] = field(default_factory=dict)

    def existing_tickets(self, numbers):
        return {n for n in numbers if n in self.people}

    def tickets_by_message_id(self, ids):
        return {i: self.message_ids[i] for i in ids if i in self.message_ids}

    def is_participant(self, number, address):
        return address in self.people.get(number, set())

    def merged_into(self, number):
        return self.merges.get(number)


def _mail(**fields) -> ParsedMail:
    fields.setdefault("from_address", "alice@example.com")
    fields.setdefault("subject", "Printer")
    return ParsedMail(**fields)


def _db() -> Tickets:
    return Tickets(
        people={
            1001: {"alice@example.com"},
            1002: {"bob@example.com", "carol@example.com"},
            1003: {"alice@example.com"},
        },
        message_ids={"<first@customer.example>": 1002, "<older@customer.example>": 1003},
    )


def test_a_mail_without_any_link_starts_a_new_ticket():
    decision = decide(_mail(), _db(), SECRET)
    assert decision.ticket_number is None
    assert decision.rule == "new"
    assert "no subject tag" in decision.explanation


def test_plus_addressed_reply_token_finds_the_ticket_even_with_a_changed_subject():
    to = reply_to_address("support@help.example", 1001, SECRET)
    decision = decide(_mail(to=[("", to)], subject="something else"), _db(), SECRET)
    assert (decision.ticket_number, decision.rule) == (1001, "token")
    assert to in decision.explanation and "#1001" in decision.explanation
    assert not decision.new_participant


def test_token_in_delivered_to_is_found_when_the_to_header_was_rewritten():
    delivered = reply_to_address("support@help.example", 1001, SECRET)
    mail = _mail(to=[("", "list@lists.example")], headers={"delivered-to": delivered})
    assert decide(mail, _db(), SECRET).ticket_number == 1001


def test_token_in_in_reply_to_message_id_finds_the_ticket():
    mail = _mail(in_reply_to=message_id(1001, SECRET, "help.example"))
    decision = decide(mail, _db(), SECRET)
    assert (decision.ticket_number, decision.rule) == (1001, "token")
    assert decision.explanation.startswith("In-Reply-To")


def test_token_beats_references_and_subject_tag():
    mail = _mail(
        subject="Re: [#1003] old thing",
        references=["<first@customer.example>"],
        to=[("", reply_to_address("support@help.example", 1001, SECRET))],
    )
    assert decide(mail, _db(), SECRET).ticket_number == 1001


def test_references_beat_the_subject_tag():
    mail = _mail(
        from_address="bob@example.com",
        subject="Re: [#1003]",
        references=["<first@customer.example>"],
    )
    decision = decide(mail, _db(), SECRET)
    assert (decision.ticket_number, decision.rule) == (1002, "references")


def test_a_forged_token_is_ignored_and_the_next_rule_decides():
    forged = f"t1001.{'a' * 10}"
    assert forged != reply_token(1001, SECRET)
    mail = _mail(to=[("", f"support+{forged}@help.example")], in_reply_to=f"<{forged}.x@evil>")
    decision = decide(mail, _db(), SECRET)
    assert decision.ticket_number is None and decision.rule == "new"


def test_a_token_signed_with_another_key_is_ignored():
    to = reply_to_address("support@help.example", 1001, "someone-elses-key")
    assert decide(_mail(to=[("", to)]), _db(), SECRET).ticket_number is None


def test_a_token_for_a_ticket_that_no_longer_exists_falls_through_to_references():
    mail = _mail(
        from_address="bob@example.com",
        to=[("", reply_to_address("support@help.example", 4242, SECRET))],
        in_reply_to="<first@customer.example>",
    )
    assert decide(mail, _db(), SECRET).ticket_number == 1002


def test_in_reply_to_is_matched_against_stored_message_ids():
    mail = _mail(from_address="bob@example.com", in_reply_to="<first@customer.example>")
    decision = decide(mail, _db(), SECRET)
    assert (decision.ticket_number, decision.rule) == (1002, "references")
    assert "In-Reply-To names <first@customer.example>" in decision.explanation


def test_the_whole_references_chain_is_searched_newest_first():
    mail = _mail(
        in_reply_to="<unknown@customer.example>",
        references=["<older@customer.example>", "<lost@x>", "<first@customer.example>"],
        from_address="carol@example.com",
    )
    decision = decide(mail, _db(), SECRET)
    assert decision.ticket_number == 1002
    assert decision.explanation.startswith("References")


def test_a_reply_by_references_from_someone_new_is_attached_and_flagged():
    mail = _mail(from_address="dave@example.com", references=["<first@customer.example>"])
    decision = decide(mail, _db(), SECRET)
    assert decision.ticket_number == 1002
    assert decision.new_participant
    assert "dave@example.com was not on the ticket before" in decision.explanation


def test_a_reply_by_token_from_someone_new_is_attached_and_flagged():
    to = reply_to_address("support@help.example", 1001, SECRET)
    decision = decide(_mail(from_address="erin@example.com", to=[("", to)]), _db(), SECRET)
    assert decision.ticket_number == 1001 and decision.new_participant


def test_subject_tag_from_the_requester_finds_the_ticket():
    decision = decide(_mail(subject="Re: [#1001] Printer"), _db(), SECRET)
    assert (decision.ticket_number, decision.rule) == (1001, "subject")
    assert "alice@example.com is on that ticket" in decision.explanation


def test_subject_tag_from_a_cc_participant_finds_the_ticket():
    mail = _mail(from_address="carol@example.com", subject="[#1002] more")
    assert decide(mail, _db(), SECRET).ticket_number == 1002


def test_subject_tag_from_a_stranger_starts_a_new_ticket():
    mail = _mail(from_address="mallory@evil.example", subject="Re: [#1001] Printer")
    decision = decide(mail, _db(), SECRET)
    assert decision.ticket_number is None and decision.rule == "new"
    assert "[#1001]" in decision.explanation
    assert "mallory@evil.example is not on that ticket" in decision.explanation


def test_subject_tag_of_a_ticket_that_does_not_exist_starts_a_new_ticket():
    assert decide(_mail(subject="[#9999] hello"), _db(), SECRET).ticket_number is None


def test_the_first_subject_tag_the_sender_is_on_wins():
    mail = _mail(from_address="bob@example.com", subject="[#1001] and [#1002]")
    assert decide(mail, _db(), SECRET).ticket_number == 1002


def test_a_reply_to_a_merged_ticket_follows_the_merge():
    tickets = _db()
    tickets.merges = {1001: 1003}
    to = reply_to_address("support@help.example", 1001, SECRET)
    decision = decide(_mail(to=[("", to)]), tickets, SECRET)
    assert decision.ticket_number == 1003
    assert "#1001 was merged into #1003" in decision.explanation
    assert not decision.new_participant


def test_chained_merges_are_followed_and_a_cycle_does_not_hang():
    tickets = _db()
    tickets.merges = {1001: 1002, 1002: 1003, 1003: 1001}
    decision = decide(_mail(subject="[#1001]"), tickets, SECRET)
    assert decision.ticket_number == 1003


def test_a_subject_tag_of_a_merged_ticket_follows_the_merge():
    tickets = _db()
    tickets.merges = {1002: 1003}
    decision = decide(_mail(from_address="bob@example.com", subject="[#1002]"), tickets, SECRET)
    assert (decision.ticket_number, decision.rule) == (1003, "subject")


def test_a_bounce_goes_to_the_ticket_of_the_returned_mail():
    decision = decide_bounce("<first@customer.example>", _db(), SECRET)
    assert (decision.ticket_number, decision.rule) == (1002, "bounce")
    assert "returns our mail <first@customer.example> of #1002" in decision.explanation


def test_a_bounce_of_our_mail_is_matched_by_its_token_when_the_id_was_not_stored():
    decision = decide_bounce(message_id(1003, SECRET, "help.example"), _db(), SECRET)
    assert decision.ticket_number == 1003


def test_a_bounce_of_a_mail_we_never_sent_names_no_ticket():
    assert decide_bounce("<someone@else>", _db(), SECRET).ticket_number is None
    unknown = decide_bounce(None, _db(), SECRET)
    assert unknown.ticket_number is None and "does not show" in unknown.explanation


def test_a_bounce_without_the_returned_mail_is_matched_by_a_token_in_its_own_headers():
    report = _mail(
        from_address="mailer-daemon@mx.example",
        headers={"delivered-to": reply_to_address("bounces@help.example", 1003, SECRET)},
    )
    decision = decide_bounce(None, _db(), SECRET, report=report)
    assert (decision.ticket_number, decision.rule) == (1003, "bounce")
    assert decision.explanation.startswith("The report's own headers")
    assert not decision.new_participant
