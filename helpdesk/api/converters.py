"""URL converters for API paths: values the database can hold, or no match (a 404)."""

from werkzeug.routing import BaseConverter, ValidationError

from helpdesk.api.openapi import PATH_SCHEMAS
from helpdesk.api.schemas.common import DB_INT_MAX

EXTERNAL_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:@+\-]{0,199}"


class DbIdConverter(BaseConverter):
    """A positive integer that fits the database's integer columns."""

    regex = r"\d{1,10}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= DB_INT_MAX:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


class ExternalIdConverter(BaseConverter):
    """An outside system's record id: letters, digits and . _ : @ + - (no slashes)."""

    regex = EXTERNAL_ID_PATTERN


CONVERTERS = {"dbid": DbIdConverter, "extid": ExternalIdConverter}
PATH_SCHEMAS["dbid"] = {"type": "integer", "minimum": 1, "maximum": DB_INT_MAX}
PATH_SCHEMAS["extid"] = {"type": "string", "pattern": f"^{EXTERNAL_ID_PATTERN}$"}
