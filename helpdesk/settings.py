"""Business settings: defaults from the app config, overridden by rows of the `settings` table.

Read them with `get_setting(name)`; the console's admin pages change them with `set_setting`.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytz
from flask import current_app
from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow

SIGNUP_POLICIES = ("open", "domains", "invite")


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
            f"The sign-up policy is one of {', '.join(SIGNUP_POLICIES)}.", {"value": "Unknown."}
        )
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("Give true or false.", {"value": "Not a yes/no value."})
    return value


def _timezone(value: Any) -> str:
    if value not in pytz.all_timezones_set:
        raise ValidationError(f"“{value}” is not a time zone.", {"value": "Unknown zone."})
    return value


def _categories(value: Any) -> list[dict]:
    """A list of {"name": …, "team": team name or null}; names unique and non-empty."""
    if not isinstance(value, list):
        raise ValidationError("Categories are a list.", {"value": "Not a list."})
    seen: set[str] = set()
    cleaned = []
    for entry in value:
        name = entry.get("name", "").strip() if isinstance(entry, dict) else ""
        team = entry.get("team") if isinstance(entry, dict) else None
        if not name or len(name) > 100 or name in seen or not isinstance(team, str | None):
            raise ValidationError(
                "Each category needs a unique name (at most 100 characters) and may name a team.",
                {"value": "Invalid category."},
            )
        seen.add(name)
        cleaned.append({"name": name, "team": team})
    return cleaned


@dataclass(frozen=True)
class Definition:
    config_key: str
    check: Callable[[Any], Any]


DEFINITIONS: dict[str, Definition] = {
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
