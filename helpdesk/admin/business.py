"""Administration: the business's settings (name, time zone, sign-up, reopen window, …)."""

from dataclasses import dataclass

import pytz
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from helpdesk import settings
from helpdesk.accounts.auth import current_actor
from helpdesk.admin import add_section, bp
from helpdesk.agent.common import form_errors, refuse, teams
from helpdesk.errors import DomainError, ValidationError
from helpdesk.extensions import db
from helpdesk.settings import CATEGORY_NAME_MAX

VALUE_MAX = 200  # longer than any setting's text (the business name, a zone)
CATEGORIES_MAX = 100
BLANK_CATEGORY_ROWS = 3

POLICY_LABELS = {
    "open": _l("Anyone may sign up"),
    "domains": _l("Only addresses of our clients' mail domains"),
    "invite": _l("By invitation only"),
}


@dataclass(frozen=True)
class Item:
    """One setting on the page and how its form field looks."""

    name: str
    label: str
    kind: str  # "text", "zone", "policy", "days" or "flag"
    hint: str


ITEMS = [
    Item("business_name", _l("Business name"), "text", _l("Shown on every page and in mails.")),
    Item(
        "timezone",
        _l("Time zone"),
        "zone",
        _l("The default for customers and for agents' dates."),
    ),
    Item("signup_policy", _l("Sign-up"), "policy", _l("Who may create a customer account.")),
    Item(
        "reopen_days",
        _l("Reopen window (days)"),
        "days",
        _l("How long a solved request reopens."),
    ),
    Item(
        "link_days",
        _l("Customer links valid (days)"),
        "days",
        _l("Password-free links in mails expire."),
    ),
    Item(
        "customer_priority",
        _l("Customers choose a priority"),
        "flag",
        _l("Otherwise every request starts as normal."),
    ),
]
ITEMS_BY_NAME = {item.name: item for item in ITEMS}


class SettingForm(FlaskForm):
    value = StringField(validators=[Length(max=VALUE_MAX)])
    action = StringField(validators=[Length(max=10)])


class CategoriesForm(FlaskForm):
    action = StringField(validators=[Length(max=10)])


def _parse(item: Item, raw: str | None):
    """The form's text as the setting's type; the settings module checks the rest."""
    if item.kind == "flag":
        return raw in ("on", "true", "1", "yes")
    if item.kind == "days":
        text = (raw or "").strip()
        if not text.isdigit() or len(text) > 5:
            raise ValidationError("Give a number of days from 1 to 3650.", {"value": _("Number.")})
        return int(text)
    return raw or ""


def _zones(current: str) -> list[str]:
    zones = list(pytz.common_timezones)
    return zones if current in zones else [current, *zones]


def _render(status: int = 200, submitted: dict | None = None, rows: list | None = None):
    values = {item.name: settings.get_setting(item.name) for item in ITEMS}
    categories = rows if rows is not None else settings.get_setting("categories")
    return render_template(
        "admin/business.html",
        items=ITEMS,
        values={**values, **(submitted or {})},
        overridden={name: settings.is_overridden(name) for name in [*ITEMS_BY_NAME, "categories"]},
        policies=POLICY_LABELS,
        zones=_zones(values["timezone"]),
        categories=categories + [{"name": "", "team": None}] * BLANK_CATEGORY_ROWS,
        team_names=[team.name for team in teams()],
        form=SettingForm(formdata=None),
        category_max=CATEGORY_NAME_MAX,
    ), status


def _saved(name: str, label: str, reset: bool):
    db.session.commit()
    if reset:
        flash(_("%(setting)s: back to the default.", setting=label), "info")
    else:
        flash(_("Saved: %(setting)s.", setting=label), "info")
    return redirect(url_for("admin.business", _anchor=f"setting-{name}"))


@bp.get("/business")
def business():
    return _render()


@bp.post("/business/<name>")
def change_business_setting(name: str):
    item = ITEMS_BY_NAME.get(name)
    if item is None:
        return _render(404)
    form = SettingForm()
    if not form.validate_on_submit():
        form_errors(form)
        return _render(400)
    reset = form.action.data == "reset"
    try:
        if reset:
            settings.restore_setting(current_actor(), name)
        else:
            settings.change_setting(current_actor(), name, _parse(item, form.value.data))
    except DomainError as exc:
        return _render(refuse(exc), submitted={name: form.value.data})
    return _saved(name, item.label, reset)


def _submitted_categories() -> list[dict]:
    """The rows of the categories form; a row whose name was cleared is dropped."""
    names, chosen = request.form.getlist("name"), request.form.getlist("team")
    if len(names) > CATEGORIES_MAX + BLANK_CATEGORY_ROWS:
        raise ValidationError(
            "At most %(max)s categories.", {"name": _("Too many.")}, max=CATEGORIES_MAX
        )
    rows = []
    for index, name in enumerate(names):
        team = chosen[index] if index < len(chosen) else ""
        if len(name) > CATEGORY_NAME_MAX or len(team) > 100:
            raise ValidationError(
                "A category's name has at most %(max)s characters.",
                {"name": _("Too long.")},
                max=CATEGORY_NAME_MAX,
            )
        if name.strip():
            rows.append({"name": name.strip(), "team": team or None})
    return rows


@bp.post("/business/categories")
def change_categories():
    form = CategoriesForm()
    if not form.validate_on_submit():
        form_errors(form)
        return _render(400)
    reset = form.action.data == "reset"
    rows = None
    try:
        if reset:
            settings.restore_setting(current_actor(), "categories")
        else:
            rows = _submitted_categories()
            settings.change_setting(current_actor(), "categories", rows)
    except DomainError as exc:
        return _render(refuse(exc), rows=rows)
    return _saved("categories", _("Categories"), reset)


add_section(
    _l("Business settings"),
    "admin.business",
    _l("Name, time zone, sign-up, reopen window, categories."),
    order=10,
)
