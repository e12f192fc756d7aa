"""Console forms for the client records and CRM connections."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from helpdesk.validation import NAME_MAX


def lines(text: str | None) -> list[str]:
    """A text area's entries, one per line (commas and semicolons separate too)."""
    parts = (text or "").replace(";", "\n").replace(",", "\n").split("\n")
    return [p.strip() for p in parts if p.strip()]


class OrganizationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    domains = TextAreaField(_l("Mail domains (one per line)"), validators=[Length(max=5000)])
    tax_id = StringField(_l("Tax id"), validators=[Optional(), Length(max=40)])
    phones = TextAreaField(
        _l("Phones (one per line, +country code)"), validators=[Length(max=1000)]
    )
    notes = TextAreaField(_l("Notes"), validators=[Length(max=20000)])


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    emails = TextAreaField(
        _l("E-mail addresses (one per line)"), validators=[DataRequired(), Length(max=3000)]
    )
    phones = TextAreaField(
        _l("Phones (one per line, +country code)"), validators=[Length(max=1000)]
    )
    organization = SelectField(_l("Organization"), choices=[], validate_choice=False)


class ConnectionForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=50)])
    kind = SelectField(
        _l("CRM"),
        choices=[SelectChoice("hubspot", "HubSpot"), SelectChoice("bitrix24", "Bitrix24")],
        default="hubspot",
    )
    base_url = StringField(
        _l("API address (HubSpot only)"), validators=[Optional(), Length(max=500)]
    )
    secret = PasswordField(
        _l("Private app token (HubSpot) or incoming webhook URL (Bitrix24)"),
        validators=[Optional(), Length(max=2000)],
    )
    webhook_secret = PasswordField(
        _l("Secret for incoming webhooks (HubSpot client secret, Bitrix24 application token)"),
        validators=[Optional(), Length(max=500)],
    )
    snapshot_ttl = IntegerField(
        _l("Refresh shown data older than (minutes)"),
        default=60,
        validators=[NumberRange(min=1, max=7 * 24 * 60)],
    )
    active = BooleanField(_l("Active"), default=True)


class LinkForm(FlaskForm):
    external_id = StringField(
        _l("Record id in the CRM"), validators=[DataRequired(), Length(max=200)]
    )
