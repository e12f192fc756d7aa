"""Turning a portal form's files and Markdown into what the ticket services take."""

from dataclasses import dataclass

from flask import current_app, request

from helpdesk.sanitize import markdown_to_html
from helpdesk.validation import ATTACHMENTS_PER_MESSAGE_MAX, BODY_MAX, Upload


@dataclass(frozen=True)
class UploadLimits:
    """The limits shown next to a file field (the services enforce them)."""

    files: int
    megabytes: int


def limits() -> UploadLimits:
    megabytes = current_app.config["HELPDESK_MAX_ATTACHMENT_MB"]
    return UploadLimits(ATTACHMENTS_PER_MESSAGE_MAX, megabytes)


def uploads_from_request(field: str = "attachments") -> list[Upload]:
    """The files chosen in the form; an empty file field sends one nameless part: skip it."""
    return [
        Upload(
            filename=part.filename,
            content_type=part.mimetype or "application/octet-stream",
            data=part.read(),
        )
        for part in request.files.getlist(field)
        if part and part.filename
    ]


def markdown_html(text: str | None) -> str | None:
    """Sanitized HTML of the customer's Markdown; none for text the services will refuse
    anyway, so an over-long body costs no rendering."""
    if not text or len(text) > BODY_MAX:
        return None
    return markdown_to_html(text)
