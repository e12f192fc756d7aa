"""Which ticket does an incoming mail belong to? Pure: the database answers through a Lookup.

The rules, in order (the first that names a ticket wins):

1. Our signed reply token, in a recipient address (To, Cc, Delivered-To, X-Original-To: the
   plus-addressed Reply-To of our mails) or in In-Reply-To / References (our Message-IDs).
   A forged token fails its signature and is ignored.
2. In-Reply-To, then the References chain (newest first), against the Message-IDs we stored
   or sent.
3. A subject tag `[#1042]`, only when the sender is the requester or a participant of that
   ticket: anyone can type a tag, so from anyone else it starts a new ticket.
4. Otherwise a new ticket.

A ticket that was merged is followed to the ticket it went into. Each decision says which
rule made it and why, in words an agent can read ("why this ticket").
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from helpdesk.mail.tokens import find_tokens

SUBJECT_TAG = re.compile(r"\[#(\d{1,12})\]")
MAX_MERGE_HOPS = 20


class Lookup(Protocol):
    """The facts threading needs from the database."""

    def existing_tickets(self, numbers: Sequence[int]) -> set[int]:
        """Which of these ticket numbers exist."""

    def tickets_by_message_id(self, message_ids: Sequence[str]) -> dict[str, int]:
        """For each Message-ID we stored or sent, the number of the ticket it belongs to."""

    def is_participant(self, number: int, address: str) -> bool:
        """Whether `address` is the requester or a participant (Cc) of ticket `number`."""

    def merged_into(self, number: int) -> int | None:
        """The number of the ticket this one was merged into, if it was."""


class ThreadingInput(Protocol):
    """What threading reads from a mail (a ParsedMail has all of it)."""

    from_address: str | None
    subject: str
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    headers: dict[str, str]
    in_reply_to: str | None
    references: list[str]


@dataclass(frozen=True)
class Decision:
    """Where the mail goes and why. `ticket_number` None means a new ticket."""

    ticket_number: int | None
    rule: str  # "token", "references", "subject", "bounce" or "new"
    explanation: str
    # Matched by token or references, but the sender is not (yet) on the ticket.
    new_participant: bool = False


def recipient_addresses(mail: ThreadingInput) -> list[str]:
    """Every address the mail was delivered to, envelope headers included."""
    addresses = [address for _, address in mail.to + mail.cc]
    for name in ("delivered-to", "x-original-to"):
        value = mail.headers.get(name, "").strip().strip("<>").lower()
        if value:
            addresses.append(value)
    return list(dict.fromkeys(addresses))


def decide(mail: ThreadingInput, lookup: Lookup, secret_key: str) -> Decision:
    """Apply the rules in order; see the module docstring."""
    return (
        _by_token(mail, lookup, secret_key, mail.from_address or "")
        or _by_references(mail, lookup)
        or _by_subject(mail, lookup)
        or Decision(None, "new", _new_ticket_reason(mail))
    )


def decide_bounce(
    original_message_id: str | None,
    lookup: Lookup,
    secret_key: str,
    report: ThreadingInput | None = None,
) -> Decision:
    """The ticket of the mail a bounce returns, found by that mail's Message-ID; else by a
    signed token in the report's own headers (some servers answer the bounced mail)."""
    if original_message_id:
        owners = lookup.tickets_by_message_id([original_message_id])
        if original_message_id in owners:
            number = owners[original_message_id]
            reason = f"The report returns our mail {original_message_id} of #{number}."
            return _follow(number, "bounce", reason, lookup)
        for number in find_tokens(original_message_id, secret_key):
            if number in lookup.existing_tickets([number]):
                reason = (
                    f"The returned mail {original_message_id} carries the signed token"
                    f" of #{number}."
                )
                return _follow(number, "bounce", reason, lookup)
    by_token = None if report is None else _by_token(report, lookup, secret_key, sender=None)
    if by_token is not None:
        reason = f"The report's own headers: {by_token.explanation}"
        return Decision(by_token.ticket_number, "bounce", reason)
    if not original_message_id:
        return Decision(None, "bounce", "The report does not show which mail bounced.")
    return Decision(
        None, "bounce", f"The returned mail {original_message_id} is not one we sent or stored."
    )


def _follow(number: int, rule: str, reason: str, lookup: Lookup, sender: str | None = None):
    """The decision for `number`, following merges; flags a sender who is not on the ticket."""
    seen = {number}
    target = number
    for _ in range(MAX_MERGE_HOPS):
        merged = lookup.merged_into(target)
        if merged is None or merged in seen:
            break
        reason += f" #{target} was merged into #{merged}, so the mail goes there."
        seen.add(merged)
        target = merged
    # sender None: nobody to check (a bounce); "" : a mail without a usable sender address.
    newcomer = sender is not None and not (
        sender and any(lookup.is_participant(n, sender) for n in seen)
    )
    if newcomer:
        who = sender or "The sender (no address)"
        reason += f" {who} was not on the ticket before: a new participant."
    return Decision(target, rule, reason, new_participant=newcomer)


def _by_token(
    mail: ThreadingInput, lookup: Lookup, secret_key: str, sender: str | None
) -> Decision | None:
    # The reply address first: the person answered exactly that mail of ours.
    places = [(address, f"the reply address {address}") for address in recipient_addresses(mail)]
    if mail.in_reply_to:
        places.append((mail.in_reply_to, f"In-Reply-To {mail.in_reply_to}"))
    places += [(ref, f"References {ref}") for ref in reversed(mail.references)]
    found: list[tuple[int, str]] = []
    for text, where in places:
        found += [(number, where) for number in find_tokens(text, secret_key)]
    if not found:
        return None
    existing = lookup.existing_tickets(list(dict.fromkeys(n for n, _ in found)))
    for number, where in found:
        if number in existing:
            reason = f"{where[0].upper()}{where[1:]} carries the signed reply token of #{number}."
            others = sorted({n for n, _ in found if n != number and n in existing})
            if others:
                named = ", ".join(f"#{n}" for n in others)
                reason += f" (Tokens of {named} appear further back in the thread.)"
            return _follow(number, "token", reason, lookup, sender)
    return None


def _by_references(mail: ThreadingInput, lookup: Lookup) -> Decision | None:
    chain = ([mail.in_reply_to] if mail.in_reply_to else []) + list(reversed(mail.references))
    chain = list(dict.fromkeys(chain))
    if not chain:
        return None
    owners = lookup.tickets_by_message_id(chain)
    for message_id in chain:
        if message_id in owners:
            number = owners[message_id]
            where = "In-Reply-To" if message_id == mail.in_reply_to else "References"
            reason = f"{where} names {message_id}, a mail of #{number}."
            return _follow(number, "references", reason, lookup, mail.from_address or "")
    return None


def _by_subject(mail: ThreadingInput, lookup: Lookup) -> Decision | None:
    numbers = list(dict.fromkeys(int(n) for n in SUBJECT_TAG.findall(mail.subject or "")))
    if not numbers or not mail.from_address:
        return None
    existing = lookup.existing_tickets(numbers)
    for number in numbers:
        if number in existing and lookup.is_participant(number, mail.from_address):
            reason = (
                f"The subject names [#{number}] and {mail.from_address} is on that ticket"
                " (requester or participant)."
            )
            return _follow(number, "subject", reason, lookup)
    return None


def _new_ticket_reason(mail: ThreadingInput) -> str:
    tags = list(dict.fromkeys(SUBJECT_TAG.findall(mail.subject or "")))
    if tags:
        named = ", ".join(f"[#{n}]" for n in tags)
        sender = mail.from_address or "the sender"
        return (
            f"The subject names {named}, but {sender} is not on that ticket (or it does not"
            " exist), and no token or known Message-ID links the mail to it: a new ticket."
        )
    return "No reply token, no known Message-ID in In-Reply-To or References, no subject tag."
