"""Separate the new text of a reply from the quoted history and the signature.

Each line is marked: e (empty), q (quoted with ">"), m (an "On ... wrote:" header),
h (the start of a quoted block without ">": "-----Original Message-----", an Outlook
"From: / Sent: / To:" block) or t (text). The reply is what is left after cutting at the
first h, at an m that is followed by unmarked text, and the quoted block at the end (or at
the start, for a reply written below the quote). Mails that answer between quoted lines
keep their quotes: without them the answers make no sense.
"""

import re

from helpdesk.mail.htmltext import HtmlTextConverter, strip_hidden

_WROTE_VERBS = (
    r"wrote|writes|schrieb|a écrit|escribió|escribio|ha scritto|scrisse|escreveu|schreef|"
    r"skrev|geschreven|napisał|napisal|napsal|kirjoitti|yazdı|έγραψε|írta|scrise|написал\(а\)|"
    r"написала|написал|пишет|писал\(а\)|писал|написав|写道|寫道|작성|kirjutas|rašė|"
    r"rakstīja|napísal"
)
_WROTE = re.compile(rf"(?i)(?:^|\W)(?:{_WROTE_VERBS})(?:\s.*)?[:：]\s*$")
_TIME = re.compile(r"\d{1,2}:\d{2}")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_CONTINUED = re.compile(r"(?:<|@[\w.-]+>?)\s*$")
_COLONS = (":", "：")
_ORIGINAL = re.compile(
    r"(?i)^\s*[-_=*]{2,}\s*(?:original message|original nachricht|ursprüngliche nachricht|"
    r"message d'origine|mensaje original|messaggio originale|mensagem original|"
    r"исходное сообщение|oorspronkelijk bericht|originalmeddelande|"
    r"oprindelig meddelelse|opprinnelig melding|alkuperäinen viesti|wiadomość oryginalna|"
    r"původní zpráva|eredeti üzenet|原始邮件|元のメッセージ|reply message|original)\s*[-_=*]*\s*$"
)
_FROM_KEYS = (
    r"from|von|de|da|от|van|fra|från|od|lähettäjä|kimden|feladó|expéditeur|発信者|差出人|发件人|"
    r"寄件者|보낸 사람"
)
_OTHER_KEYS = (
    r"sent|date|to|cc|subject|gesendet|datum|an|betreff|envoyé|à|objet|enviado|enviada|"
    r"para|asunto|assunto|inviato|oggetto|a|отправлено|дата|кому|копия|тема|verzonden|aan|"
    r"onderwerp|sendt|til|emne|skickat|till|ämne|wysłano|do|temat|odesláno|komu|předmět|"
    r"lähetetty|vastaanottaja|aihe|gönderildi|kime|konu|elküldve|címzett|tárgy|"
    r"发送时间|日期|收件人|抄送|主题|送信日時|日付|宛先|件名|date sent|sent date"
)
_FROM_LINE = re.compile(rf"(?i)^\s*[*_]?(?:{_FROM_KEYS})[*_]?\s*:[*_]?\s*\S")
_HEADER_LINE = re.compile(rf"(?i)^\s*[*_]?(?:{_FROM_KEYS}|{_OTHER_KEYS})[*_]?\s*:")
_FORWARDED = re.compile(
    r"(?i)^\s*(?:[-_=*]{2,}\s*)?(?:forwarded message|weitergeleitete nachricht|"
    r"message transféré|mensaje reenviado|mensagem encaminhada|messaggio inoltrato|"
    r"пересылаемое сообщение|begin forwarded message|doorgestuurd bericht)"
)
_RULE = re.compile(r"^\s*[-_=*~]{3,}\s*$")
_SIG_DELIMITER = re.compile(r"^-- ?$")
_MOBILE_SIGNATURE = re.compile(
    r"(?i)^\s*(?:sent from my |sent from (?:mail|outlook|yahoo mail|samsung)|sent with |"
    r"sent via |sent using |get outlook for |von meinem .* gesendet|gesendet von |"
    r"envoyé de mon |envoyé depuis |enviado desde mi |enviado do meu |enviado de meu |"
    r"inviato da(?:l mio)? |отправлено с |отправлено из |skickat från min |verzonden met |"
    r"sendt fra min )"
)
MAX_SIGNATURE_LINES = 15
_RULE_CHARS = ("-", "_", "=", "*")


def _marks(lines: list[str]) -> list[str]:
    marks = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            marks.append("e")
        elif stripped.startswith(">"):
            marks.append("q")
        else:
            marks.append("t")
    for index, line in enumerate(lines):
        if marks[index] != "t" or ":" not in line and not line.lstrip().startswith(_RULE_CHARS):
            continue
        if _ORIGINAL.match(line):
            marks[index] = "h"
        elif (
            _FROM_LINE.match(line)
            and _is_header_block(lines, index)
            and not _after_forward_line(lines, index)
        ):
            start = index  # some clients put "Sent:" or "Date:" above the "From:" line
            while start and marks[start - 1] == "t" and _HEADER_LINE.match(lines[start - 1]):
                start -= 1
            marks[start] = "h"
    for end, line in enumerate(lines):
        # A reply header ends with a colon; it may be wrapped over up to three lines.
        if marks[end] != "t" or not line.rstrip().endswith(_COLONS):
            continue
        for start in range(end, max(-1, end - 3), -1):
            if marks[start] != "t":
                break
            if _is_reply_header(" ".join(part.strip() for part in lines[start : end + 1])):
                if start and marks[start - 1] == "t" and _CONTINUED.search(lines[start - 1]):
                    start -= 1  # the header's first line broke inside the address
                marks[start : end + 1] = ["m"] * (end + 1 - start)
                break
    return marks


def _is_header_block(lines: list[str], start: int) -> bool:
    """An Outlook-style block: a From: line and two more header lines close below it."""
    found = 0
    for line in lines[start + 1 : start + 8]:
        if _HEADER_LINE.match(line):
            found += 1
    return found >= 2


def _after_forward_line(lines: list[str], index: int) -> bool:
    """A forwarded message is content, not history: its header block is kept."""
    for line in reversed(lines[max(0, index - 3) : index]):
        if line.strip():
            return bool(_FORWARDED.match(line))
    return False


def _is_reply_header(text: str) -> bool:
    if len(text) > 300 or not text.endswith(_COLONS):
        return False
    has_date = bool(_TIME.search(text) or _YEAR.search(text))
    if _WROTE.search(text):
        return has_date or bool(_EMAIL.search(text))
    # "26.06.2014, 14:41, "Alexander L" <abc@example.com>:" (Yandex, mail.ru, Japanese)
    return bool(_TIME.search(text) and _EMAIL.search(text) and re.search(r"\d", text[:12]))


def strip_quotes(text: str) -> str:
    """The text without quoted history; the whole text when everything looks quoted."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    marks = _marks(lines)
    end = len(lines)
    if "h" in marks:
        end = marks.index("h")
    for index in range(end):
        if marks[index] == "m" and (index == 0 or marks[index - 1] != "m"):
            following = [m for m in marks[index:end] if m not in "em"]
            if not following or following[0] != "q":
                end = index
                break
    end = _drop_trailing_quote(marks, end)
    start = _skip_leading_quote(marks, end)
    reply = "\n".join(lines[start:end]).strip("\n")
    reply = _drop_trailing_rules(reply)
    return reply.strip() if reply.strip() else (text or "").strip()


def _drop_trailing_quote(marks: list[str], end: int) -> int:
    while True:
        before = end
        while end and marks[end - 1] in "eq":
            end -= 1
        while end and marks[end - 1] == "m":
            end -= 1
        if end == before:
            return end


def _skip_leading_quote(marks: list[str], end: int) -> int:
    """A reply written below the quote: drop the leading header and quote if no quote follows."""
    start = 0
    while start < end and marks[start] in "em":
        start += 1
    if start >= end or marks[start] != "q":
        return 0
    while start < end and marks[start] in "eq":
        start += 1
    if "q" in marks[start:end] or "t" not in marks[start:end]:
        return 0
    return start


def _drop_trailing_rules(text: str) -> str:
    lines = text.split("\n")
    while lines and (not lines[-1].strip() or _RULE.match(lines[-1])):
        lines.pop()
    return "\n".join(lines)


def strip_signature(text: str) -> str:
    """The text without a trailing signature: after a "-- " line, or "Sent from my iPhone"."""
    lines = (text or "").split("\n")
    for index, line in enumerate(lines):
        short = 0 < len(lines) - index <= MAX_SIGNATURE_LINES + 1
        if _SIG_DELIMITER.match(line) and short and any(p.strip() for p in lines[:index]):
            lines = lines[:index]
            break
    tail = [i for i, line in enumerate(lines) if line.strip()][-3:]
    for index in tail:
        if _MOBILE_SIGNATURE.match(lines[index]) and any(p.strip() for p in lines[:index]):
            lines = lines[:index]
            break
    return "\n".join(lines).strip()


def extract_reply(text: str, signature: bool = True) -> str:
    """The new text of a plain-text mail: quoted history removed, and the signature unless
    `signature` is False."""
    reply = strip_quotes(text)
    if signature:
        stripped = strip_signature(reply)
        reply = stripped or reply
    return reply


_QUOTE_CLASSES = (
    "gmail_quote", "gmail_extra", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote",
    "zmail_extra", "ms-outlook-mobile-reply", "x_gmail_quote", "x_yahoo_quoted",
    "x_gmail_extra", "x_moz-cite-prefix",
)  # fmt: skip
_STOP_IDS = (
    "divrplyfwdmsg", "x_divrplyfwdmsg", "olk_src_body_section", "stopspelling", "appendonsend"
)  # fmt: skip


class _ReplyConverter(HtmlTextConverter):
    """HTML to text, leaving out the elements mail clients put quoted history in."""

    def quote_action(self, tag: str, attrs: dict) -> str | None:
        ident = (attrs.get("id") or "").lower()
        if ident.startswith(_STOP_IDS):
            return "stop"
        if tag == "blockquote":
            return "skip"
        classes = (attrs.get("class") or "").lower().split()
        if any(name in _QUOTE_CLASSES for name in classes):
            return "skip"
        if attrs.get("data-signatureblock") == "true":
            return "skip"
        return None


_QUOTE_MARKERS = ("<blockquote", "data-signatureblock", *_QUOTE_CLASSES, *_STOP_IDS)


def _has_quote_markup(html: str) -> bool:
    lower = html.lower()
    return any(marker in lower for marker in _QUOTE_MARKERS)


def extract_reply_html(html: str, signature: bool = True, text: str | None = None) -> str:
    """The new text of an HTML mail: quote containers removed, then as for plain text.

    `text`, the mail's text already derived from `html`, saves a second pass when the
    markup holds no quote containers.
    """
    html = strip_hidden(html or "")
    if text is not None and not _has_quote_markup(html):
        return extract_reply(text, signature)
    return extract_reply(_ReplyConverter().convert(html), signature)
