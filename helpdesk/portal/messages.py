"""Show the domain's (English) error messages in the customer's language.

The services raise errors with English text; this table maps the ones a customer can meet to
translated strings. A message that is not in the table is shown as it is: still correct, only
in English.
"""

import re

from flask_babel import gettext, ngettext

from helpdesk.errors import DomainError
from helpdesk.i18n import N_, NN_

_FIXED = {
    "Required.": N_("Required."),
    "Please give a subject.": N_("Please give a subject."),
    "Please write a message.": N_("Please write a message."),
    "Please give a name.": N_("Please give your name."),
    "Please give an e-mail address.": N_("Please give an e-mail address."),
    "That e-mail address is too long.": N_("That e-mail address is too long."),
    "Too long.": N_("Too long."),
    "The password is too long.": N_("The password is too long."),
    "Please choose a category.": N_("Please choose a category."),
    "Only agents set the priority.": N_("Only our team sets the priority."),
    "You can only open requests for yourself.": N_("You can only open requests for yourself."),
    "This link is invalid or has expired.": N_("This link is invalid or has expired."),
    "Accounts are created by invitation only.": N_("Accounts are created by invitation only."),
    "Sign-up is open to the addresses of our clients' organizations only.": N_(
        "Sign-up is open to the addresses of our clients' organizations only."
    ),
    "Not an address of a client organization.": N_("Not an address of a client organization."),
    "Has an account.": N_("This address has an account already."),
    "In use.": N_("This address has an account already."),
    "Please choose a language from the list.": N_("Please choose a language from the list."),
    "Please choose a time zone from the list.": N_("Please choose a time zone from the list."),
    "Unknown.": N_("Unknown value."),
    "Your current password is not right.": N_("Your current password is not right."),
    "The two new passwords are not the same.": N_("The two new passwords are not the same."),
    "A closed ticket cannot change; a reply opens a new ticket.": N_(
        "This request is closed; a reply opens a new request."
    ),
}

_PATTERNS = [
    (r"At most (?P<count>[\d,]+) characters\.", N_("At most %(count)s characters.")),
    (r"At least (?P<count>\d+) characters\.", N_("At least %(count)s characters.")),
    (
        r"The subject is too long \((?P<length>\d+) characters; at most (?P<max>\d+)\)\.",
        N_("The subject is too long (%(length)s characters; at most %(max)s)."),
    ),
    (
        r"The message is too long \((?P<length>[\d,]+) characters; at most (?P<max>[\d,]+)\)\.",
        N_("The message is too long (%(length)s characters; at most %(max)s)."),
    ),
    (
        r"The name is too long \(at most (?P<max>\d+) characters\)\.",
        N_("The name is too long (at most %(max)s characters)."),
    ),
    (
        r"The password must have at least (?P<count>\d+) characters\.",
        N_("The password must have at least %(count)s characters."),
    ),
    (
        r"Too many files \((?P<count>\d+); at most (?P<max>\d+)\)\.",
        N_("Too many files (%(count)s; at most %(max)s)."),
    ),
    (r"At most (?P<max>\d+) files\.", N_("At most %(max)s files.")),
    (
        r"“(?P<name>.+)” is too large \((?P<size>[\d.]+) MB; at most (?P<max>\d+) MB\)\.",
        N_("“%(name)s” is too large (%(size)s MB; at most %(max)s MB)."),
    ),
    (r"At most (?P<max>\d+) MB per file\.", N_("At most %(max)s MB per file.")),
    (
        r"“(?P<value>.+)” is not a valid e-mail address\.",
        N_("“%(value)s” is not a valid e-mail address."),
    ),
    (
        r"There is already an account for (?P<email>\S+)\. Sign in or reset the password\.",
        N_("There is already an account for %(email)s. Sign in or reset the password."),
    ),
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
    """The customer-language version of a domain message (the message itself if unknown)."""
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
    return message


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
