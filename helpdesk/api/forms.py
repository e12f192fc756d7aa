"""Forms of the account pages (Flask-WTF: each carries its CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

TOKEN_NAME_MAX = 100  # the api_tokens.name column


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name (what the token is for)"),
        validators=[DataRequired(), Length(max=TOKEN_NAME_MAX)],
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
