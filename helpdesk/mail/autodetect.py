"""Recognize automatic mail: bounces (RFC 3464 and the MTAs that ignore it), auto-replies
(RFC 3834), read receipts (RFC 8098), abuse reports (ARF), bulk mail, and upstream spam flags.

Pure: works on a ParsedMail. Every decision comes with the reasons, for agents to read.
"""

import re
from dataclasses import dataclass, field
from enum import StrEnum

from helpdesk.mail.parse import ParsedMail, split_header_params


class MailKind(StrEnum):
    """What sent the mail: a person, or a machine and which kind."""

    NORMAL = "normal"
    AUTO_REPLY = "auto_reply"  # out-of-office, vacation, "we received your mail"
    AUTO_GENERATED = "auto_generated"  # notifications, mailing lists, bulk mail
    BOUNCE = "bounce"
    RECEIPT = "receipt"
    ABUSE_REPORT = "abuse_report"


@dataclass
class BouncedRecipient:
    """One address a bounce reports on, with the DSN fields when there are any."""

    address: str
    action: str = ""  # failed, delayed, delivered, relayed, expanded
    status: str = ""  # the enhanced status code, 5.1.1
    diagnostic: str = ""

    @property
    def permanent(self) -> bool:
        """A permanent failure: the address should be marked as failing."""
        if self.action:
            return self.action == "failed"
        return not self.status.startswith("4")


@dataclass
class Bounce:
    """What bounced (the returned mail's Message-ID) and for whom."""

    original_message_id: str | None = None
    recipients: list[BouncedRecipient] = field(default_factory=list)

    @property
    def failed_addresses(self) -> list[str]:
        """Addresses that failed for good (not the delayed ones)."""
        return [r.address for r in self.recipients if r.permanent]


@dataclass
class Classification:
    """The verdict on one mail, with the reasons shown to agents."""

    kind: MailKind = MailKind.NORMAL
    reasons: list[str] = field(default_factory=list)
    spam: bool = False
    spam_reason: str = ""
    suppress_auto_reply: bool = False  # the sender asked not to be answered automatically
    bounce: Bounce | None = None

    @property
    def automatic(self) -> bool:
        """Sent by a machine: never reopens a ticket, never acknowledged."""
        return self.kind is not MailKind.NORMAL

    @property
    def may_acknowledge(self) -> bool:
        """Whether an automatic acknowledgement to this mail is allowed (RFC 3834 section 2)."""
        return not (self.automatic or self.spam or self.suppress_auto_reply)


_DAEMON_LOCAL = re.compile(
    r"^(?:mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|poostmaster|mdaemon|mail[-_.]?delivery|"
    r"bounces?|mailer|double-bounce|nobody)(?:[+=]|$)",
    re.I,
)
_DAEMON_NAME = re.compile(
    r"(?i)mail delivery (?:sub)?system|mail delivery service|mailer[- ]daemon|postmaster|"
    r"mail administrator|internet mail delivery|delivery status notification|e-?mail interconnect"
)
_BOUNCE_SUBJECT = re.compile(
    r"(?i)undeliver|undelivered mail|delivery status notification|delivery notification|"
    r"delivery (?:has )?failed|mail delivery failed|delivery failure|failure notice|"
    r"returned mail|returned to sender|non[- ]?remis|nondeliverable|non[- ]delivery|"
    r"not delivered|could not be delivered|mail system error|delivery report|delivery status|"
    r"delayed mail|delivery (?:has been )?delayed|message delayed|postmaster notify|unzustellbar|"
    r"nicht zustellbar|zustellung fehlgeschlagen|benachrichtigung zum (?:übermittlungs|zustell)|"
    r"mail delivery status|delivery problem|message you sent blocked|недоставленное сообщение|"
    r"не доставлено|配信(?:不能|エラー)|送信エラー|mensaje no entregado|no se puede entregar|"
    r"impossible de remettre|échec de (?:la )?remise|mancato recapito|warning: could not send|"
    r"fail(?:ed|ure) delivery|mail failed|returning (?:message )?to sender|"
    r"warning: message .{0,80} delayed|error sending your (?:mail|message)"
)
# Amazon SES reports bounces as JSON through SNS, from an ordinary no-reply sender.
_SES_BOUNCE = re.compile(r'\\?"notificationType\\?"\s*:\s*\\?"Bounce')
_JMRP_HEADER = re.compile(r"(?im)^X-HmXmrOriginalRecipient:")
_BOUNCE_BODY = re.compile(
    r"(?i)this is the mail system at host|i'm sorry to have to inform you|"
    r"could not be delivered to one or more|delivery to the following recipients? failed|"
    r"the following addresses? had permanent fatal errors|this is the qmail-send program|"
    r"message was created automatically by mail delivery software|"
    r"your message did not reach some or all|delivery has failed to these recipients|"
    r"a message that you sent could not be delivered|unable to deliver your message|"
    r"your message (?:could not|cannot|wasn't|was not) (?:be )?delivered|"
    r"message (?:could not|cannot) be delivered|undeliverable|permanent (?:fatal )?error|"
    r"delivery (?:to|of) .{0,80} (?:failed|has been delayed)|user unknown|mailbox (?:unavailable|"
    r"full|not found|is full)|no such (?:user|mailbox|recipient)|recipient address rejected|"
    r"address rejected|host or domain name not found|smtp error from remote|"
    r"(?:^|\s)5\.\d{1,3}\.\d{1,3}\s|(?:^|\s)55\d[ -]|transcript of session follows|"
    r"was not delivered|could not deliver|delivery failed|has not been delivered"
)
# Strict on purpose: a customer's "Vacation booking" or "I am out of toner" is not automatic.
_AUTO_REPLY_SUBJECT = re.compile(
    r"(?i)^\s*\[?(?:auto(?:matic|matische)?[- ]?(?:reply|response|answer|antwort)\b|"
    r"out of (?:the )?office(?:\s*(?::|reply|autoreply|notification|$))|ooo\s*:|"
    r"abwesenheitsnotiz|abwesend\s*:|réponse automatique|respuesta automática|"
    r"resposta automática|risposta automatica|автоответ|автоматический ответ|"
    r"automatisch antwoord|autosvar|automatisk svar|自動応答|自动回复)"
)
_SPAM_SUBJECT = re.compile(r"(?i)^\s*(?:\[spam\]|\*{3}\s*spam\s*\*{3}|\{spam\?\}|spam:)")
_MESSAGE_ID = re.compile(r"(?im)^[ \t>]*message-id:[ \t]*(?:\r?\n[ \t]+)?<?([^<>\s]+@?[^<>\s]*)>?")
_EMAIL = r"[^\s<>()\"',;:]+@[^\s<>()\"',;:]+\.[A-Za-z0-9-]+"
_FAILED_AFTER = (
    r"error delivering your mail to|(?:was|has) not (?:yet )?been delivered to|"
    r"(?:was not|could not be|couldn't be|cannot be) delivered to|did not reach the following|"
    r"could not be reached|unable to deliver your message to|address(?:\(es\))? failed|"
    r"following (?:address(?:es)?|recipients?)(?:\(\w+\))? (?:had|failed|could)|"
    r"delivery to the following recipients? failed|recipients? or groups|undeliverable to|"
    r"permanent fatal errors|delivery errors|address to which the message"
)
_RECIPIENT_PATTERNS = (
    re.compile(rf"(?m)^<({_EMAIL})>(?:\s*\(expanded from[^)]*\))?:"),  # qmail, postfix
    re.compile(rf"(?m)^\s*<?({_EMAIL})>?\.\.\.\s"),  # sendmail transcript
    re.compile(rf"(?im)^\s*(?:final-recipient|original-recipient):\s*rfc822;\s*<?({_EMAIL})>?"),
    re.compile(rf"(?is)(?:{_FAILED_AFTER}).{{0,300}}?<?({_EMAIL})>?"),
    re.compile(rf"(?i)rcpt to:\s*<({_EMAIL})>"),
    re.compile(rf"(?m)\b[45]\d\d[ -](?:[45]\.\d{{1,3}}\.\d{{1,3}}\s+)?<({_EMAIL})>"),
    re.compile(rf'emailAddress\\?"\s*:\s*\\?"({_EMAIL}?)\\?"'),  # Amazon SES via SNS
)


def classify(mail: ParsedMail) -> Classification:
    """Decide what kind of mail this is and why; for bounces, what bounced and to whom."""
    result = Classification()
    _check_spam(mail, result)
    headers = mail.headers
    suppress = headers.get("x-auto-response-suppress", "").lower()
    result.suppress_auto_reply = bool(suppress) and suppress not in ("none", "no")
    report_type, part_types = _report_types(mail)
    if report_type == "delivery-status" or part_types & _DSN_TYPES:
        result.kind = MailKind.BOUNCE
        result.reasons.append("delivery status report (RFC 3464)")
    elif report_type == "disposition-notification" or "message/disposition-notification" in (
        part_types
    ):
        result.kind = MailKind.RECEIPT
        result.reasons.append("read receipt (RFC 8098)")
    elif report_type == "feedback-report" or "message/feedback-report" in part_types:
        result.kind = MailKind.ABUSE_REPORT
        result.reasons.append("abuse feedback report (ARF)")
    elif headers.get("x-failed-recipients"):
        result.kind = MailKind.BOUNCE
        result.reasons.append("X-Failed-Recipients header")
    elif _is_jmrp(mail):
        result.kind = MailKind.ABUSE_REPORT
        result.reasons.append("complaint report (Microsoft JMRP)")
    elif _SES_BOUNCE.search(mail.text[:5000]):
        result.kind = MailKind.BOUNCE
        result.reasons.append("Amazon SES bounce notification")
    else:
        _check_informal_bounce(mail, result)
    if result.kind is MailKind.NORMAL:
        _check_auto_reply(mail, result)
    if result.kind is MailKind.BOUNCE:
        result.bounce = _bounce_details(mail)
    return result


_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})


def _report_types(mail: ParsedMail) -> tuple[str, set[str]]:
    main, params = split_header_params(mail.headers.get("content-type"))
    report_type = params.get("report-type", "").lower() if main == "multipart/report" else ""
    return report_type, {a.content_type for a in mail.attachments}


def _check_spam(mail: ParsedMail, result: Classification) -> None:
    headers = mail.headers
    reasons = []
    if headers.get("x-spam-flag", "").strip().lower() in ("yes", "true"):
        reasons.append("X-Spam-Flag: YES")
    if headers.get("x-spam-status", "").strip().lower().startswith("yes"):
        reasons.append("X-Spam-Status: Yes")
    if headers.get("x-spam", "").strip().lower() in ("yes", "true", "spam"):
        reasons.append("X-Spam: yes")
    scl = headers.get("x-ms-exchange-organization-scl", "").strip()
    if scl.lstrip("-").isdigit() and int(scl) >= 5:
        reasons.append(f"Exchange spam confidence level {scl}")
    if _SPAM_SUBJECT.match(mail.subject):
        reasons.append("subject marked as spam by a filter")
    if reasons:
        result.spam = True
        result.spam_reason = "; ".join(reasons)


def _is_jmrp(mail: ParsedMail) -> bool:
    return any(
        a.content_type == "message/rfc822" and _JMRP_HEADER.search(_text(a.data[:20000]))
        for a in mail.attachments
    )


def _is_daemon_sender(mail: ParsedMail) -> bool:
    local = (mail.from_address or "").split("@")[0]
    return bool(_DAEMON_LOCAL.match(local) or _DAEMON_NAME.search(mail.from_name or ""))


def _check_informal_bounce(mail: ParsedMail, result: Classification) -> None:
    """Bounces without a delivery-status part: judged by sender, subject and wording.

    Marking an address as failing needs confidence: a mail that calls itself an auto-reply
    (RFC 3834) is a bounce here only when its subject says so too.
    """
    daemon = _is_daemon_sender(mail) or not mail.from_address
    null_sender = mail.headers.get("return-path", "").strip() in ("<>", "")
    subject = bool(_BOUNCE_SUBJECT.search(mail.subject))
    body = bool(_BOUNCE_BODY.search(mail.text[:20000]))
    auto_reply = mail.headers.get("auto-submitted", "").lower().startswith("auto-replied")
    if auto_reply and not subject:
        return
    if (daemon and (subject or body)) or (subject and body and null_sender):
        result.kind = MailKind.BOUNCE
        signs = ["sender is a mail system" if daemon else "null return path"]
        signs += ["bounce subject"] * subject + ["bounce wording"] * body
        result.reasons.append("non-standard bounce: " + ", ".join(signs))


def _check_auto_reply(mail: ParsedMail, result: Classification) -> None:
    headers = mail.headers
    submitted = headers.get("auto-submitted", "").strip().lower()
    precedence = headers.get("precedence", "").strip().lower()
    if submitted.startswith("auto-replied"):
        result.kind = MailKind.AUTO_REPLY
        result.reasons.append("Auto-Submitted: auto-replied (RFC 3834)")
    elif any(headers.get(h) for h in ("x-autoreply", "x-autorespond", "x-mail-autoreply")):
        result.kind = MailKind.AUTO_REPLY
        result.reasons.append("X-Autoreply header")
    elif headers.get("x-autogenerated", "").lower() == "reply":
        result.kind = MailKind.AUTO_REPLY
        result.reasons.append("X-AutoGenerated: Reply")
    elif precedence == "auto_reply" or headers.get("x-apple-action", "").upper() == "VACATION":
        result.kind = MailKind.AUTO_REPLY
        result.reasons.append(f"marked as a vacation reply ({precedence or 'X-Apple-Action'})")
    elif _AUTO_REPLY_SUBJECT.match(mail.subject):
        result.kind = MailKind.AUTO_REPLY
        result.reasons.append("subject of an automatic reply")
    elif submitted and submitted != "no":
        result.kind = MailKind.AUTO_GENERATED
        result.reasons.append(f"Auto-Submitted: {submitted.split(';')[0]} (RFC 3834)")
    elif precedence in ("bulk", "junk", "list"):
        result.kind = MailKind.AUTO_GENERATED
        result.reasons.append(f"Precedence: {precedence}")
    elif headers.get("list-id") or headers.get("list-unsubscribe"):
        result.kind = MailKind.AUTO_GENERATED
        result.reasons.append("mailing list or newsletter (List-Id / List-Unsubscribe)")
    elif re.search(r"(?i)\b(all|oof|autoreply)\b", headers.get("x-auto-response-suppress", "")):
        result.kind = MailKind.AUTO_GENERATED
        result.reasons.append("X-Auto-Response-Suppress: sent by an automatic system")


def _bounce_details(mail: ParsedMail) -> Bounce:
    bounce = Bounce()
    returned, other = [], []
    for attachment in mail.attachments:
        ctype = attachment.content_type
        if ctype in _DSN_TYPES:
            bounce.recipients.extend(parse_delivery_status(_text(attachment.data)))
        elif ctype in _RETURNED_TYPES:
            returned.append(_text(attachment.data[:200_000]))
        elif ctype.startswith(("text/", "message/")):
            other.append(_text(attachment.data[:200_000]))
    if not bounce.recipients:
        bounce.recipients = _recipients_from_text(mail)
    bounce.original_message_id = _returned_message_id(returned, [mail.text, *other])
    return bounce


_RETURNED_TYPES = frozenset(
    {"message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers"}
)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def parse_delivery_status(text: str) -> list[BouncedRecipient]:
    """The per-recipient fields of a message/delivery-status body."""
    unfolded = re.sub(r"\r?\n[ \t]+", " ", text.replace("\r\n", "\n"))
    recipients = []
    for block in re.split(r"\n\s*\n", unfolded):
        fields = {}
        for line in block.split("\n"):
            name, sep, value = line.partition(":")
            if sep:
                fields.setdefault(name.strip().lower(), value.strip())
        recipient = fields.get("final-recipient") or fields.get("original-recipient")
        if not recipient:
            continue
        address = recipient.split(";", 1)[-1].strip().strip("<>").strip().lower()
        if "@" not in address:
            continue
        recipients.append(
            BouncedRecipient(
                address=address,
                action=fields.get("action", "").lower().split()[0] if fields.get("action") else "",
                status=fields.get("status", "").split()[0] if fields.get("status") else "",
                diagnostic=fields.get("diagnostic-code", "")[:500],
            )
        )
    return recipients


def _recipients_from_text(mail: ParsedMail) -> list[BouncedRecipient]:
    found: list[str] = []
    failed = mail.headers.get("x-failed-recipients", "")
    found += [a.strip().lower() for a in failed.split(",") if "@" in a]
    text = mail.text[:50000]
    for pattern in _RECIPIENT_PATTERNS:
        found += [address.lower().rstrip(".:") for address in pattern.findall(text)]
        if found:
            break  # the patterns are in order of trust: stop at the first that finds any
    status = re.search(r"\b([45]\.\d{1,3}\.\d{1,3})\b", text)
    code = status.group(1) if status else ""
    unique = dict.fromkeys(a for a in found if a != (mail.from_address or ""))
    return [BouncedRecipient(address=a, status=code) for a in unique]


def _returned_message_id(returned: list[str], texts: list[str]) -> str | None:
    """The Message-ID of the mail that bounced: from the returned headers, else from a
    "Message-ID:" line anywhere in the report (never our own top-level header)."""
    for returned_text in returned:
        headers = returned_text.replace("\r\n", "\n").split("\n\n", 1)[0]
        found = _MESSAGE_ID.search(headers)
        if found:
            return f"<{found.group(1)}>"
    for text in texts:
        found = _MESSAGE_ID.search(text)
        if found:
            return f"<{found.group(1)}>"
    return None
