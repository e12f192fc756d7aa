"""Sending one prepared mail through Flask-Mail (called from outbox handlers only)."""

import logging

from flask import current_app
from flask_mail import Message as MailMessage

from helpdesk.extensions import mail

log = logging.getLogger(__name__)


def send_mail(
    to: list[str], subject: str, text: str, html: str | None = None, headers: dict | None = None
) -> str:
    """Hand the mail to the SMTP server; return a short note of what happened."""
    if not current_app.config.get("MAIL_SERVER"):
        log.info("mail to %s not sent (no MAIL_SERVER configured): %s", ", ".join(to), subject)
        return "not sent: no MAIL_SERVER"
    message = MailMessage(subject=subject, recipients=to, body=text, html=html)
    message.extra_headers = dict(headers or {})
    mail.send(message)
    return f"sent to {', '.join(to)}"
