"""Every input limit in one place; the portal, console, API, mail and CLI all call these."""

import re
import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from helpdesk.errors import ValidationError

SUBJECT_MAX = 250
BODY_MAX = 100_000  # characters of text; a long mail thread fits, a pasted log file does not
NAME_MAX = 200
EMAIL_MAX = 254
PASSWORD_MIN = 10
PASSWORD_MAX = 1_000
TAG_MAX = 50
TAGS_PER_TICKET_MAX = 20
ATTACHMENTS_PER_MESSAGE_MAX = 10
FILENAME_MAX = 255
DEFAULT_ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024

# C0 and C1 controls and DEL; newlines (\n, \r) and tabs are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_TAG = re.compile(r"^[\w][\w\-.]*$")


def _text(value: str | None) -> str:
    """Normalize to NFC and drop control characters (keeping newlines and tabs)."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", value or ""))


def clean_subject(value: str | None) -> str:
    subject = " ".join(_text(value).split())
    if not subject:
        raise ValidationError("Please give a subject.", {"subject": "Required."})
    if len(subject) > SUBJECT_MAX:
        raise ValidationError(
            "The subject is too long (%(length)s characters; at most %(max)s).",
            {"subject": f"At most {SUBJECT_MAX} characters."},
            length=len(subject),
            max=SUBJECT_MAX,
        )
    return subject


def clean_body(value: str | None, field: str = "body", required: bool = True) -> str:
    body = _text(value).replace("\r\n", "\n").strip()
    if required and not body:
        raise ValidationError("Please write a message.", {field: "Required."})
    if len(body) > BODY_MAX:
        raise ValidationError(
            "The message is too long (%(length)s characters; at most %(max)s).",
            {field: f"At most {BODY_MAX:,} characters."},
            length=f"{len(body):,}",
            max=f"{BODY_MAX:,}",
        )
    return body


def clean_name(value: str | None, field: str = "name") -> str:
    name = " ".join(_text(value).split())
    if not name:
        raise ValidationError("Please give a name.", {field: "Required."})
    if len(name) > NAME_MAX:
        raise ValidationError(
            "The name is too long (at most %(max)s characters).",
            {field: f"At most {NAME_MAX} characters."},
            max=NAME_MAX,
        )
    return name


def clean_email(value: str | None, field: str = "email") -> str:
    """A syntactically valid address, lower-cased (how addresses are stored and compared)."""
    raw = (value or "").strip()
    if not raw:
        raise ValidationError("Please give an e-mail address.", {field: "Required."})
    if len(raw) > EMAIL_MAX:
        raise ValidationError("That e-mail address is too long.", {field: "Too long."})
    try:
        checked = validate_email(raw, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValidationError(
            "“%(value)s” is not a valid e-mail address.", {field: str(exc)}, value=raw
        ) from None
    return checked.normalized.lower()


def clean_domain(raw: str | None, field: str = "domains") -> str:
    """A mail domain, lower-cased, without a leading @."""
    domain = (raw or "").strip().lower().lstrip("@")
    if not domain or "." not in domain or len(domain) > 253 or any(c.isspace() for c in domain):
        raise ValidationError("“%(domain)s” is not a mail domain.", {field: "Invalid."}, domain=raw)
    return domain


def clean_password(value: str | None, field: str = "password") -> str:
    password = value or ""
    if len(password) < PASSWORD_MIN:
        raise ValidationError(
            "The password must have at least %(count)s characters.",
            {field: f"At least {PASSWORD_MIN} characters."},
            count=PASSWORD_MIN,
        )
    if len(password) > PASSWORD_MAX:
        raise ValidationError("The password is too long.", {field: "Too long."})
    return password


def clean_tags(values: list[str]) -> list[str]:
    tags: list[str] = []
    for raw in values:
        tag = _text(raw).strip().lower()
        if not tag:
            continue
        if len(tag) > TAG_MAX or not _TAG.match(tag):
            raise ValidationError(
                "“%(tag)s” is not a valid tag (letters, digits, - . _; at most %(max)s).",
                {"tags": "Invalid tag."},
                tag=tag[:60],
                max=TAG_MAX,
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > TAGS_PER_TICKET_MAX:
        raise ValidationError(
            "At most %(max)s tags per ticket.", {"tags": "Too many tags."}, max=TAGS_PER_TICKET_MAX
        )
    return tags


def clean_filename(value: str | None) -> str:
    """A safe display name: no path, no control characters, never empty."""
    name = _text(value).replace("\\", "/").rsplit("/", 1)[-1]
    # Collapse whitespace first, so ". .. ." cannot leave "." or ".." behind.
    name = " ".join(name.split()).strip(". ")
    if not name:
        return "attachment"
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and len(ext) <= 16:
            return stem[: FILENAME_MAX - len(ext) - 1] + "." + ext
        return name[:FILENAME_MAX]
    return name


@dataclass(frozen=True)
class Upload:
    """A file on its way in, from a form, the API or a mail."""

    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


def check_uploads(uploads: list[Upload], max_bytes: int = DEFAULT_ATTACHMENT_MAX_BYTES) -> None:
    if len(uploads) > ATTACHMENTS_PER_MESSAGE_MAX:
        raise ValidationError(
            "Too many files (%(count)s; at most %(max)s).",
            {"attachments": f"At most {ATTACHMENTS_PER_MESSAGE_MAX} files."},
            count=len(uploads),
            max=ATTACHMENTS_PER_MESSAGE_MAX,
        )
    for upload in uploads:
        if len(upload.data) > max_bytes:
            raise ValidationError(
                "“%(name)s” is too large (%(size)s MB; at most %(max)s MB).",
                {"attachments": f"At most {max_bytes / 1048576:.0f} MB per file."},
                name=clean_filename(upload.filename),
                size=f"{len(upload.data) / 1048576:.1f}",
                max=f"{max_bytes / 1048576:.0f}",
            )


# People administration: a team's name fits its column; the people search box has a bound.
TEAM_NAME_MAX = 100
PEOPLE_QUERY_MAX = 200


def clean_team_name(value: str | None) -> str:
    name = clean_name(value)
    if len(name) > TEAM_NAME_MAX:
        raise ValidationError(
            "The team name is too long (at most %(max)s characters).",
            {"name": f"At most {TEAM_NAME_MAX} characters."},
            max=TEAM_NAME_MAX,
        )
    return name
