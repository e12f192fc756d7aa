"""Console forms (Flask-WTF: every one carries its CSRF token). Limits come from validation."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from helpdesk.agent.display import PRIORITY_TITLES, STATUS_TITLES
from helpdesk.tickets.models import Priority
from helpdesk.tickets.states import Status
from helpdesk.validation import BODY_MAX, EMAIL_MAX, NAME_MAX, SUBJECT_MAX


def as_choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms options."""
    return [SelectChoice(value, label) for value, label in pairs]


STATUS_CHOICES = as_choices((s.value, STATUS_TITLES[s]) for s in Status)
PRIORITY_CHOICES = as_choices((p.value, PRIORITY_TITLES[p]) for p in Priority)


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Reply to the customer"), validators=[Length(max=BODY_MAX)])
    attachments = MultipleFileField(_l("Attach files"))
    # The newest message on the page when it was loaded: a reply that crossed ours is caught.
    last_seen = IntegerField(validators=[Optional()])
    confirm = BooleanField(_l("Send anyway"))
    status_after = SelectField(
        _l("Then set status"),
        choices=as_choices(
            [("", _l("(keep)")), ("pending", _l("Pending")), ("resolved", _l("Resolved"))]
        ),
        validate_choice=False,
    )
    canned = SelectField(_l("Canned response"), choices=[], validate_choice=False)


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Internal note"), validators=[DataRequired(), Length(max=BODY_MAX)])
    attachments = MultipleFileField(_l("Attach files"))


class FieldsForm(FlaskForm):
    version = IntegerField(validators=[Optional()])
    status = SelectField(_l("Status"), choices=STATUS_CHOICES, validate_choice=False)
    priority = SelectField(_l("Priority"), choices=PRIORITY_CHOICES, validate_choice=False)
    assignee = SelectField(_l("Assignee"), choices=[], validate_choice=False)
    team = SelectField(_l("Team"), choices=[], validate_choice=False)


class VersionForm(FlaskForm):
    """A button that acts on the ticket as it was when the page was loaded."""

    version = IntegerField(validators=[Optional()])


class TagsForm(FlaskForm):
    add = StringField(_l("Add tags"), validators=[Length(max=500)])
    remove = HiddenField()


class ParticipantForm(FlaskForm):
    email = EmailField(_l("Copy in (Cc)"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=NAME_MAX)])


class MergeForm(FlaskForm):
    version = IntegerField(validators=[Optional()])
    target = StringField(_l("Merge into ticket"), validators=[DataRequired(), Length(max=20)])


class SplitForm(FlaskForm):
    subject = StringField(_l("Subject of the new ticket"), validators=[Length(max=SUBJECT_MAX)])


class SpamForm(FlaskForm):
    block = SelectField(
        _l("Block"),
        choices=as_choices(
            [
                ("address", _l("their address")),
                ("domain", _l("their whole domain")),
                ("none", _l("nobody")),
            ]
        ),
    )


class NewTicketForm(FlaskForm):
    email = EmailField(
        _l("Customer's e-mail address"), validators=[DataRequired(), Length(max=EMAIL_MAX)]
    )
    name = StringField(_l("Customer's name"), validators=[Optional(), Length(max=NAME_MAX)])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=SUBJECT_MAX)])
    body = TextAreaField(
        _l("What the customer asks"), validators=[DataRequired(), Length(max=BODY_MAX)]
    )
    priority = SelectField(_l("Priority"), choices=PRIORITY_CHOICES, default="normal")
    team = SelectField(_l("Team"), choices=[], validate_choice=False)
    attachments = MultipleFileField(_l("Attach files"))


class SaveViewForm(FlaskForm):
    name = StringField(_l("Save these filters as"), validators=[DataRequired(), Length(max=100)])
    shared = BooleanField(_l("Share with all agents"))


class BulkForm(FlaskForm):
    """The bar above the queue: each button (name="action") uses its own field."""

    assignee = SelectField(_l("Assign to"), choices=[], validate_choice=False)
    team = SelectField(_l("Move to team"), choices=[], validate_choice=False)
    status = SelectField(_l("Set status"), choices=STATUS_CHOICES, validate_choice=False)
    priority = SelectField(_l("Set priority"), choices=PRIORITY_CHOICES, validate_choice=False)
    tag = StringField(_l("Tag"), validators=[Length(max=200)])
    target = StringField(_l("Merge into #"), validators=[Length(max=20)])
