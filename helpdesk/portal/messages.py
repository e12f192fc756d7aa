"""Show the domain's error messages in the customer's language.

A domain error translates itself (DomainError.translated). The tables here are for what the
portal says differently: wording for customers ("request", not "ticket"; "our team", not
"an agent"), and the short notes next to form fields, which are not catalog entries where they
are raised. Anything else is looked up in the catalog as it is, and shown in English when it is
not there.
"""

import re

from flask_babel import gettext, ngettext

from helpdesk.errors import DomainError
from helpdesk.i18n import N_, NN_

_FIXED = {
    "Please give a name.": N_("Please give your name."),
    "Only agents set the priority.": N_("Only our team sets the priority."),
    "Has an account.": N_("This address has an account already."),
    "In use.": N_("This address has an account already."),
    "Unknown.": N_("Unknown value."),
    "A closed ticket cannot change; a reply opens a new ticket.": N_(
        "This request is closed; a reply opens a new request."
    ),
}

# Field notes shown as they are, which nothing else marks for the catalog.
_FIELD_NOTES = (N_("Required."), N_("Not an address of a client organization."))

_PATTERNS = [
    (r"At most (?P<count>[\d,]+) characters\.", N_("At most %(count)s characters.")),
    (r"At least (?P<count>\d+) characters\.", N_("At least %(count)s characters.")),
    (r"At most (?P<max>\d+) files\.", N_("At most %(max)s files.")),
    (r"At most (?P<max>\d+) MB per file\.", N_("At most %(max)s MB per file.")),
    (r"The ticket is already (?P<status>\w+)\.", N_("Nothing changed: it is already so.")),
    (
        r"This request was resolved more than (?P<num>\d+) days ago and can no longer be"
        r" reopened; a reply opens a new request\.",
        NN_(
            "This request was solved more than %(num)s day ago and can no longer be"
            " reopened; a reply opens a new request.",
            "This request was solved more than %(num)s days ago and can no longer be"
            " reopened; a reply opens a new request.",
        ),
    ),
    (
        r"Only an agent can move a ticket from (?P<old>\w+) to (?P<new>\w+)\.",
        N_("Only our team can make that change."),
    ),
    (r"There is no ticket #(?P<number>\d+)\.", N_("There is no request #%(number)s.")),
]
_COMPILED = [(re.compile(rf"^{pattern}$"), text) for pattern, text in _PATTERNS]

# What to say about a field when its message is not in the table (email_validator's own
# explanations, for one, are many and English).
_FIELD_FALLBACK = {"email": N_("Not a valid e-mail address.")}


def translate(message: str) -> str:
    """The customer-language version of a domain message or field note (the catalog's
    translation of the message itself when no table names it)."""
    known = _FIXED.get(message)
    if known is not None:
        return gettext(known)
    for pattern, msgid in _COMPILED:
        match = pattern.match(message)
        if match is None:
            continue
        values = match.groupdict()
        if isinstance(msgid, tuple):
            singular, plural = msgid
            return ngettext(singular, plural, int(values.pop("num")), **values)
        return gettext(msgid, **values)
    return gettext(message)


def for_customer(exc: DomainError) -> str:
    """What the portal says about a refusal: the customer's wording where it has its own (the
    table above), else the domain's message in the customer's language."""
    translated = translate(exc.message)
    return translated if translated != exc.message else exc.translated()


def field_errors(exc: DomainError) -> dict[str, str]:
    """Each bad field's message, translated, for showing next to the field."""
    errors = {}
    for field, message in exc.fields.items():
        translated = translate(message)
        if translated == message and field in _FIELD_FALLBACK:
            translated = gettext(_FIELD_FALLBACK[field])
        errors[field] = translated
    return errors
