"""Business settings: defaults from the app config, overridden by rows of the `settings` table.

Read them with `get_setting(name)`; the console's admin pages change them with
`change_setting`/`restore_setting`, which check the actor and leave an audit line.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytz
from flask import current_app
from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk import audit
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow

SIGNUP_POLICIES = ("open", "domains", "invite")
BUSINESS_NAME_MAX = 100
CATEGORY_NAME_MAX = 100


class Setting(db.Model):
    """One overridden business setting; `value` is JSON."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def _days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 3650:
        raise ValidationError("Give a number of days from 1 to 3650.", {"value": "1 to 3650."})
    return value


def _policy(value: Any) -> str:
    if value not in SIGNUP_POLICIES:
        raise ValidationError(
            "The sign-up policy is one of %(choices)s.",
            {"value": "Unknown."},
            choices=", ".join(SIGNUP_POLICIES),
        )
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("Give true or false.", {"value": "Not a yes/no value."})
    return value


def _timezone(value: Any) -> str:
    if value not in pytz.all_timezones_set:
        raise ValidationError(
            "“%(zone)s” is not a time zone.", {"value": "Unknown zone."}, zone=value
        )
    return value


def _business_name(value: Any) -> str:
    name = " ".join(value.split()) if isinstance(value, str) else ""
    if not name or len(name) > BUSINESS_NAME_MAX:
        raise ValidationError(
            "Give the business a name of 1 to %(max)s characters.",
            {"value": f"1 to {BUSINESS_NAME_MAX} characters."},
            max=BUSINESS_NAME_MAX,
        )
    return name


def _categories(value: Any) -> list[dict]:
    """A list of {"name": …, "team": team name or null}; names unique and non-empty."""
    if not isinstance(value, list):
        raise ValidationError("Categories are a list.", {"value": "Not a list."})
    seen: set[str] = set()
    cleaned = []
    for entry in value:
        name = entry.get("name", "").strip() if isinstance(entry, dict) else ""
        team = entry.get("team") if isinstance(entry, dict) else None
        if (
            not name
            or len(name) > CATEGORY_NAME_MAX
            or name in seen
            or not isinstance(team, str | None)
        ):
            raise ValidationError(
                "Each category needs a unique name (at most %(max)s characters)"
                " and may name a team.",
                {"value": "Invalid category."},
                max=CATEGORY_NAME_MAX,
            )
        seen.add(name)
        cleaned.append({"name": name, "team": team or None})
    _check_teams({entry["team"] for entry in cleaned} - {None})
    return cleaned


def _check_teams(names: set[str]) -> None:
    from helpdesk.accounts.models import Team

    if not names:
        return
    known = set(db.session.execute(select(Team.name).where(Team.name.in_(names))).scalars())
    missing = sorted(names - known)
    if missing:
        raise ValidationError(
            "There is no team named “%(name)s”.", {"value": "No team."}, name=missing[0]
        )


@dataclass(frozen=True)
class Definition:
    config_key: str
    check: Callable[[Any], Any]


DEFINITIONS: dict[str, Definition] = {
    "business_name": Definition("HELPDESK_NAME", _business_name),
    "reopen_days": Definition("HELPDESK_REOPEN_DAYS", _days),
    "signup_policy": Definition("HELPDESK_SIGNUP_POLICY", _policy),
    "categories": Definition("HELPDESK_CATEGORIES", _categories),
    "customer_priority": Definition("HELPDESK_CUSTOMER_PRIORITY", _flag),
    "timezone": Definition("HELPDESK_TIMEZONE", _timezone),
    "link_days": Definition("HELPDESK_LINK_DAYS", _days),
}


def _definition(name: str) -> Definition:
    try:
        return DEFINITIONS[name]
    except KeyError:
        raise KeyError(f"no business setting named {name!r}") from None


def get_setting(name: str) -> Any:
    """The setting's stored value if an admin set one, else the configured default."""
    definition = _definition(name)
    row = db.session.get(Setting, name)
    if row is not None:
        return json.loads(row.value)
    return current_app.config[definition.config_key]


def set_setting(name: str, value: Any) -> Any:
    """Store an override after checking it; raises ValidationError. Flushes, never commits."""
    definition = _definition(name)
    value = definition.check(value)
    row = db.session.get(Setting, name)
    if row is None:
        row = Setting(key=name)
        db.session.add(row)
    row.value = json.dumps(value)
    row.updated_at = utcnow()
    db.session.flush()
    return value


def reset_setting(name: str) -> None:
    """Drop the override: the configured default applies again."""
    _definition(name)
    row = db.session.get(Setting, name)
    if row is not None:
        db.session.delete(row)
        db.session.flush()


def category_names() -> list[str]:
    return [entry["name"] for entry in get_setting("categories")]


def team_for_category(name: str | None):
    """The team a category routes to (None when it names none); ValidationError if unknown."""
    from helpdesk.accounts.models import Team

    categories = {entry["name"]: entry["team"] for entry in get_setting("categories")}
    if not categories:
        return None
    if name not in categories:
        raise ValidationError("Please choose a category.", {"category": "Required."})
    team_name = categories[name]
    if team_name is None:
        return None
    return db.session.execute(select(Team).where(Team.name == team_name)).scalar_one_or_none()


def business_name() -> str:
    """The name pages and mails show: the stored setting, else HELPDESK_NAME.

    Error pages render it too, when the database may be the thing that failed."""
    try:
        return get_setting("business_name")
    except SQLAlchemyError:
        return current_app.config["HELPDESK_NAME"]


# --- audited changes, for the console's admin pages ---------------------------------------------


def is_overridden(name: str) -> bool:
    """True when an admin stored a value (False: the configured default applies)."""
    _definition(name)
    return db.session.get(Setting, name) is not None


def change_setting(actor, name: str, value: Any) -> Any:
    """Store a checked value and log it (admins). Raises PermissionDenied, ValidationError."""
    audit.require_admin(actor, "Only administrators change the business settings.")
    old = get_setting(name)
    new = set_setting(name, value)
    if new != old:
        audit.record(actor, "setting.changed", f"{name}: {audit.shorten(old)}", audit.shorten(new))
        db.session.flush()
    return new


def restore_setting(actor, name: str) -> Any:
    """Go back to the configured default and log it (admins); returns the default."""
    audit.require_admin(actor, "Only administrators change the business settings.")
    if not is_overridden(name):
        return get_setting(name)
    old = get_setting(name)
    reset_setting(name)
    new = get_setting(name)
    audit.record(
        actor, "setting.changed", f"{name}: {audit.shorten(old)}", f"{audit.shorten(new)} (default)"
    )
    db.session.flush()
    return new


# --- the admin change log -----------------------------------------------------------------------


@dataclass
class ChangePage:
    events: list
    next_cursor: str | None


def _cursor(event) -> str:
    return f"{event.created_at.isoformat()}_{event.id}"


def _parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    moment, _, event_id = (cursor or "").partition("_")
    try:
        return datetime.fromisoformat(moment), int(event_id)
    except ValueError:
        return None  # a bad or missing cursor starts from the newest


def change_log(actor, *, action_prefix: str = "", after: str | None = None, limit: int = 50):
    """Changes made outside any ticket, newest first, a page at a time (admins).

    Keyset pagination on (created_at, id): pages stay fast however long the log grows."""
    from sqlalchemy import and_, or_

    from helpdesk.tickets.models import AuditEvent

    audit.require_admin(actor, "Only administrators read the change log.")
    stmt = select(AuditEvent).where(AuditEvent.ticket_id.is_(None))
    prefix = action_prefix.strip()[:50]
    if prefix:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(AuditEvent.action.like(escaped + "%", escape="\\"))
    position = _parse_cursor(after)
    if position is not None:
        moment, event_id = position
        stmt = stmt.where(
            or_(
                AuditEvent.created_at < moment,
                and_(AuditEvent.created_at == moment, AuditEvent.id < event_id),
            )
        )
    stmt = stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    events = list(db.session.execute(stmt).scalars())
    more = len(events) > limit
    events = events[:limit]
    return ChangePage(events, _cursor(events[-1]) if more else None)


def change_kinds() -> list[str]:
    """The first words of the actions in the change log ("setting", "canned", …)."""
    from helpdesk.tickets.models import AuditEvent

    actions = db.session.execute(
        select(AuditEvent.action).where(AuditEvent.ticket_id.is_(None)).distinct()
    ).scalars()
    return sorted({action.partition(".")[0] for action in actions})
