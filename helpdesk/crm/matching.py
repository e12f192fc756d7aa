"""How a requester is matched to a CRM record: the one place where the order is written.

Contacts, in this order:
  1. exact normalized e-mail against all of a CRM contact's addresses;
     several candidates are "ambiguous": shown to the agent, never picked automatically;
  2. phone number (compared in E.164), with the same rule for several candidates.
Companies, in this order:
  1. the company the matched CRM contact belongs to;
  2. else a unique company for the requester's mail domain, ignoring free-mail domains;
  3. else a unique company with the organization's tax id.
A link an agent confirmed, set or removed is never changed automatically.

Pure: the lookups are passed in, so the order can be tested without a CRM.
"""

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import phonenumbers

from helpdesk.crm.protocol import CrmCompany, CrmContact

# Mail providers anyone can sign up with: a shared domain says nothing about the company.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk",
        "hotmail.de", "hotmail.fr", "live.com", "msn.com", "yahoo.com", "yahoo.co.uk",
        "yahoo.de", "yahoo.fr", "ymail.com", "aol.com", "icloud.com", "me.com", "mac.com",
        "proton.me", "protonmail.com", "pm.me", "tutanota.com", "fastmail.com", "hey.com",
        "zoho.com", "gmx.de", "gmx.net", "gmx.com", "web.de", "t-online.de", "mail.com",
        "orange.fr", "free.fr", "laposte.net", "libero.it", "virgilio.it", "seznam.cz",
        "wp.pl", "o2.pl", "interia.pl", "onet.pl", "uol.com.br", "bol.com.br", "terra.com.br",
        "qq.com", "163.com", "126.com", "naver.com", "yandex.ru", "yandex.com", "yandex.by",
        "yandex.kz", "yandex.ua", "ya.ru", "mail.ru", "inbox.ru", "list.ru", "bk.ru",
        "internet.ru", "rambler.ru", "ro.ru", "ukr.net", "i.ua", "meta.ua",
    }
)  # fmt: skip


class Rule(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CONTACT_COMPANY = "contact_company"
    DOMAIN = "domain"
    TAX_ID = "tax_id"
    AGENT = "agent"  # chosen by hand


# How sure each rule is; shown to agents beside the match reason.
CONFIDENCE = {
    Rule.EMAIL: 1.0,
    Rule.CONTACT_COMPANY: 0.95,
    Rule.TAX_ID: 0.9,
    Rule.PHONE: 0.8,
    Rule.DOMAIN: 0.7,
    Rule.AGENT: 1.0,
}


@dataclass(frozen=True)
class Match:
    """The outcome: one record (`external_id`), several (`candidates`, ambiguous) or none."""

    rule: Rule | None = None
    external_id: str | None = None
    candidates: tuple = ()

    @property
    def ambiguous(self) -> bool:
        return self.external_id is None and len(self.candidates) > 1

    @property
    def record(self):
        """The matched record, when the lookup returned it (not for the contact's company)."""
        return self.candidates[0] if self.external_id and self.candidates else None

    @property
    def confidence(self) -> float | None:
        return CONFIDENCE[self.rule] if self.external_id and self.rule else None


NO_MATCH = Match()


def normalize_email(value: str | None) -> str | None:
    address = (value or "").strip().strip("<>").lower()
    if address.startswith("mailto:"):
        address = address[len("mailto:") :]
    return address if "@" in address else None


def normalize_phone(value: str | None, region: str | None = None) -> str | None:
    """E.164 (`+74951234567`), or None when it is no valid number."""
    try:
        number = phonenumbers.parse((value or "").strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mail_domain(address: str) -> str | None:
    email = normalize_email(address)
    return email.rpartition("@")[2] if email else None


def is_free_mail(domain: str) -> bool:
    return domain.lower().strip(".") in FREE_MAIL_DOMAINS


def company_domains(emails: Iterable[str]) -> list[str]:
    """The requester's mail domains that can say which company they work for."""
    domains = (mail_domain(e) for e in emails)
    return list(dict.fromkeys(d for d in domains if d and not is_free_mail(d)))


def _by_id(records: Iterable) -> dict[str, object]:
    return {r.external_id: r for r in records}


def _decide(rule: Rule, found: dict) -> Match | None:
    if len(found) == 1:
        return Match(rule, next(iter(found)), tuple(found.values()))
    if len(found) > 1:
        return Match(rule, None, tuple(found.values()))
    return None


def match_contact(
    emails: Iterable[str],
    phones: Iterable[str],
    by_email: Callable[[str], list[CrmContact]],
    by_phone: Callable[[str], list[CrmContact]],
    region: str | None = None,
) -> Match:
    """The CRM contact for a requester with these addresses and phone numbers."""
    wanted = [e for e in dict.fromkeys(normalize_email(e) for e in emails) if e]
    found = {}
    for email in wanted:
        for candidate in by_email(email):
            # The CRM's search may be loose; only an exact address counts.
            theirs = {normalize_email(e) for e in candidate.emails}
            if email in theirs:
                found[candidate.external_id] = candidate
    decided = _decide(Rule.EMAIL, found)
    if decided is not None:
        return decided
    numbers = [n for n in dict.fromkeys(normalize_phone(p, region) for p in phones) if n]
    for number in numbers:
        for candidate in by_phone(number):
            theirs = {normalize_phone(p, region) for p in candidate.phones}
            if number in theirs:
                found[candidate.external_id] = candidate
    return _decide(Rule.PHONE, found) or NO_MATCH


def match_company(
    contact: CrmContact | None,
    emails: Iterable[str],
    tax_id: str | None,
    by_domain: Callable[[str], list[CrmCompany]],
    by_tax_id: Callable[[str], list[CrmCompany]],
) -> Match:
    """The CRM company for a requester (and the matched CRM contact, if any)."""
    if contact is not None and contact.company_id:
        return Match(Rule.CONTACT_COMPANY, contact.company_id)
    found = {}
    for domain in company_domains(emails):
        found.update(_by_id(by_domain(domain)))
    decided = _decide(Rule.DOMAIN, found)
    if decided is not None and not decided.ambiguous:
        return decided
    tax = normalize_tax_id(tax_id)
    if tax:
        same = _by_id(c for c in by_tax_id(tax) if normalize_tax_id(c.tax_id) == tax)
        by_tax = _decide(Rule.TAX_ID, same)
        if by_tax is not None:
            return by_tax
    return decided or NO_MATCH


def normalize_tax_id(value: str | None) -> str | None:
    """Upper case without spaces, dots or dashes (`de 123.456-789` → `DE123456789`)."""
    cleaned = "".join(ch for ch in (value or "") if ch.isalnum()).upper()
    return cleaned or None


def may_update_automatically(confirmed: bool, set_by_agent: bool, unlinked: bool) -> bool:
    """A link an agent has confirmed, set or removed belongs to the agent from then on."""
    return not (confirmed or set_by_agent or unlinked)
