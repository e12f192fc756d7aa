"""Sending one prepared mail that belongs to no ticket (account mails, admin notices), from an
outbox handler: through the global SMTP settings, raising on failure so the outbox retries.

Mails about tickets go through helpdesk.notifications instead (threading, identity, loops).
"""

import logging
from email.utils import make_msgid, parseaddr

from flask import current_app

from helpdesk.mail import delivery, outbound
from helpdesk.settings import business_name

log = logging.getLogger(__name__)


def send_mail(
    to: list[str], subject: str, text: str, html: str | None = None, headers: dict | None = None
) -> str:
    """Hand the mail to the SMTP server; return a short note of what happened."""
    settings = delivery.global_settings()
    if settings is None:
        log.info("mail to %s not sent (no MAIL_SERVER configured): %s", ", ".join(to), subject)
        return "not sent: no MAIL_SERVER"
    config = current_app.config
    name, sender = parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")
    sender = sender or config["HELPDESK_SUPPORT_ADDRESS"]
    mail = outbound.OutgoingMail(
        sender=sender,
        sender_name=name or business_name(),
        to=list(to),
        subject=" ".join(subject.split()),
        text=text,
        html=html,
        message_id=make_msgid(domain=outbound.message_id_host(sender)),
        headers=dict(headers or {}),
    )
    delivery.transmit(settings, sender, mail.to, outbound.build_message(mail).as_bytes())
    return f"sent to {', '.join(to)}"
