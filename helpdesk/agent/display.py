"""How the console shows times ("5 min ago" in lists, the full time on hover) and the names of
statuses, priorities and channels in the agent's language (in English: the stored value)."""

import functools
from datetime import datetime
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_decimal
from flask_babel import get_locale, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from helpdesk.tickets.models import Priority
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow

# The names in select boxes and tables (the value in title case in English).
STATUS_TITLES = {
    Status.NEW: _l("New"),
    Status.OPEN: _l("Open"),
    Status.PENDING: _l("Pending"),
    Status.RESOLVED: _l("Resolved"),
    Status.CLOSED: _l("Closed"),
}
PRIORITY_TITLES = {
    Priority.LOW: _l("Low"),
    Priority.NORMAL: _l("Normal"),
    Priority.HIGH: _l("High"),
    Priority.URGENT: _l("Urgent"),
}


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return ""
    seconds = int(((now or utcnow()) - moment).total_seconds())
    if seconds < 60:
        return _("just now")
    if seconds < 3600:
        return _("%(n)s min ago", n=seconds // 60)
    if seconds < 86400:
        return _("%(n)s h ago", n=seconds // 3600)
    if seconds < 7 * 86400:
        return _("%(n)s d ago", n=seconds // 86400)
    # The day as stored (UTC), like short_time: no shift to the agent's time zone.
    pattern = "MMM dd, yyyy" if seconds > 300 * 86400 else "MMM dd"
    return format_date(moment, pattern, locale=locale_code())


def short_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") + " UTC" if moment else ""


def number(text: str) -> str:
    """A number already rounded for English ("3.5", "12") with the language's decimal sign."""
    return format_decimal(Decimal(text), "0.#########", locale=locale_code())


def locale_code():
    """The request's language for Babel's formatting (English outside a request)."""
    return get_locale() or "en"


@functools.lru_cache(maxsize=16)
def _labels_in(locale: str) -> dict[str, dict[str, str]]:
    """The names of statuses, priorities, channels and ticket fields in one language (the
    request's, which `locale` names: it is the cache key)."""
    return {
        "status": {
            "new": pgettext("ticket status", "new"),
            "open": pgettext("ticket status", "open"),
            "pending": pgettext("ticket status", "pending"),
            "resolved": pgettext("ticket status", "resolved"),
            "closed": pgettext("ticket status", "closed"),
        },
        "priority": {
            "low": pgettext("ticket priority", "low"),
            "normal": pgettext("ticket priority", "normal"),
            "high": pgettext("ticket priority", "high"),
            "urgent": pgettext("ticket priority", "urgent"),
        },
        "channel": {
            "portal": pgettext("ticket channel", "portal"),
            "email": pgettext("ticket channel", "email"),
            "agent": pgettext("ticket channel", "agent"),
            "api": pgettext("ticket channel", "api"),
        },
        "field": {
            "status": pgettext("ticket field", "status"),
            "priority": pgettext("ticket field", "priority"),
            "assignee": pgettext("ticket field", "assignee"),
            "team": pgettext("ticket field", "team"),
        },
    }


def label_for(kind: str, value) -> str:
    """The name of a value in the agent's language ("open" in English); kind is "status",
    "priority", "channel" or "field". A value without a name is shown as it is."""
    value = getattr(value, "value", value)
    return _labels_in(str(locale_code())).get(kind, {}).get(value, value)


def status_label(status) -> str:
    """A ticket status as the badges, filters and history show it ("open" in English)."""
    return label_for("status", status)


def status_title(status) -> str:
    """A ticket status in title case ("Open" in English), as select boxes and tables show it."""
    value = getattr(status, "value", status)
    return str(STATUS_TITLES.get(value, value))


def priority_label(priority) -> str:
    return label_for("priority", priority)


def channel_label(channel) -> str:
    return label_for("channel", channel)
