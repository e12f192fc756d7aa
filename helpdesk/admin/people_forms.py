"""Forms of the people pages (Flask-WTF: each carries its CSRF token); limits from validation."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from helpdesk.validation import EMAIL_MAX, NAME_MAX, TEAM_NAME_MAX


class CheckboxesField(SelectMultipleField):
    """Several choices as plain checkboxes: works without JavaScript and on a phone."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form) -> None:
        # Stale ids (a team deleted meanwhile) are dropped by the view, not refused.
        pass


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice("agent", _l("Agent")), SelectChoice("admin", _l("Administrator"))]


class StaffForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    role = SelectField(_l("Role"), choices=_role_choices(), default="agent")
    teams = CheckboxesField(_l("Teams"), coerce=int, choices=[])


class NewStaffForm(StaffForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=EMAIL_MAX)])


class TeamForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=TEAM_NAME_MAX)])
    members = CheckboxesField(_l("Members"), coerce=int, choices=[])


class InvitationForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    name = StringField(_l("Name (optional)"), validators=[Optional(), Length(max=NAME_MAX)])
    organization = SelectField(_l("Organization"), choices=[], validate_choice=False)


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token and where to go back to."""

    next = HiddenField(validators=[Optional(), Length(max=2000)])
