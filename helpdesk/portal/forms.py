"""Portal forms: CSRF and field plumbing only. Every limit lives in helpdesk.validation and is
checked by the services, so the forms carry no validators of their own."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    MultipleFileField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice

from helpdesk.tickets.models import Priority

PRIORITY_LABELS = {
    Priority.LOW: _l("Low"),
    Priority.NORMAL: _l("Normal"),
    Priority.HIGH: _l("High"),
    Priority.URGENT: _l("Urgent"),
}


class TicketForm(FlaskForm):
    subject = StringField(_l("Subject"))
    body = TextAreaField(_l("Describe your request"))
    category = SelectField(_l("Category"), choices=[], validate_choice=False)
    priority = SelectField(
        _l("Priority"),
        choices=[SelectChoice(p.value, label) for p, label in PRIORITY_LABELS.items()],
        default=Priority.NORMAL.value,
        validate_choice=False,
    )
    attachments = MultipleFileField(_l("Attachments"))


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Your reply"))
    attachments = MultipleFileField(_l("Attachments"))


class ActionForm(FlaskForm):
    """A button that changes something (mark as solved, reopen): only the CSRF token."""


class SignupForm(FlaskForm):
    email = EmailField(_l("E-mail address"))
    name = StringField(_l("Your name"))


class PasswordForm(FlaskForm):
    name = StringField(_l("Your name"))
    password = PasswordField(_l("Choose a password"))


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("E-mail address"))


class ProfileForm(FlaskForm):
    name = StringField(_l("Your name"))
    locale = SelectField(_l("Language"), choices=[], validate_choice=False)
    timezone = SelectField(_l("Time zone"), choices=[], validate_choice=False)


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"))
    new_password = PasswordField(_l("New password"))
    confirm_password = PasswordField(_l("New password, again"))


class FreshLinkForm(FlaskForm):
    email = EmailField(_l("E-mail address"))
