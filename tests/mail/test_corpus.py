"""The parser against real mail from other projects' test suites (../shared/corpus, see its
SOURCES.md): nothing crashes, and the results agree with the expectations shipped with them.

Run with `-s` to see the agreement figures and every miss.
"""

import base64
import email
import hashlib
import html
import re
import time
from pathlib import Path

import pytest
import yaml

from helpdesk.mail.autodetect import MailKind, classify
from helpdesk.mail.htmltext import html_to_text
from helpdesk.mail.parse import ParsedMail, decode_bytes, parse_message
from helpdesk.mail.quotes import extract_reply, extract_reply_html
from tests.conftest import CORPUS

ZAMMAD = CORPUS / "zammad" / "test-data-mail"
TALON = CORPUS / "talon" / "tests-fixtures"
SISIMAI = CORPUS / "sisimai-set-of-emails"
NOT_MAIL = {"MANIFEST.tsv", "SOURCES.md"}


def _mail_files() -> list[Path]:
    assert CORPUS.is_dir(), f"the mail corpus is missing: expected it at {CORPUS}"
    files = (p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".yml")
    return sorted(p for p in files if p.name not in NOT_MAIL)


@pytest.fixture(scope="module")
def parsed() -> dict[Path, ParsedMail]:
    files = _mail_files()
    raws = {path: path.read_bytes() for path in files}
    started = time.perf_counter()
    results = {path: parse_message(raw) for path, raw in raws.items()}
    elapsed = time.perf_counter() - started
    size = sum(len(raw) for raw in raws.values()) / 1e6
    rate = len(files) / elapsed
    print(f"\nparsed {len(files)} corpus files ({size:.1f} MB) in {elapsed:.2f} s: {rate:.0f}/s")
    return results


def _ws(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _report(title: str, total: int, misses: list[str]) -> float:
    share = 100 * (total - len(misses)) / total
    print(f"\n{title}: {total - len(misses)}/{total} = {share:.1f}%")
    for miss in misses:
        print(f"  miss {miss}")
    return share


def test_every_corpus_file_parses_without_an_exception(parsed):
    assert len(parsed) > 600
    for path, mail in parsed.items():
        assert isinstance(mail, ParsedMail), path
        assert mail.raw_size == path.stat().st_size
    # The expected-result files are not mail, but nothing may make the parser raise.
    for path in sorted(CORPUS.rglob("*.yml")) + [CORPUS / name for name in NOT_MAIL]:
        assert parse_message(path.read_bytes()).raw_size == path.stat().st_size


# ---- Zammad: sender, subject and body against its expected results --------------------------


class _RubyYaml(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Reads the Ruby YAML dumps Zammad ships as expected results (libyaml when present)."""


_RubyYaml.add_constructor(
    "!ruby/hash:ActiveSupport::HashWithIndifferentAccess",
    lambda loader, node: loader.construct_mapping(node, deep=True),
)
_RubyYaml.add_constructor(
    "!binary", lambda loader, node: base64.b64decode(loader.construct_scalar(node))
)


def _html_title(raw: bytes) -> str:
    """The <title> of the mail's HTML body: Zammad shows it as the body's first line."""
    for part in email.message_from_bytes(raw).walk():
        if part.get_content_type() == "text/html":
            text = decode_bytes(part.get_payload(decode=True) or b"", part.get_content_charset())
            found = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
            if found:
                return _ws(html.unescape(found.group(1)))
    return ""


def _expected_body(expected: dict, box: Path, ours: str) -> str:
    body = expected.get("body") or ""
    if body == "no visible content":  # Zammad's word for an empty body
        return ""
    if expected.get("content_type") != "text/html":
        return _ws(body)
    text = _ws(html_to_text(body, links=False))
    if text != ours:
        # Zammad shows the page <title> as the body's first line; a browser does not, nor we.
        title = _html_title(box.read_bytes())
        if title and text.startswith(title):
            return text[len(title) :].strip()
    return text


def _our_body(expected: dict, mail: ParsedMail) -> str:
    if expected.get("content_type") == "text/html" and mail.html:
        return _ws(html_to_text(mail.html, links=False))
    return _ws(mail.text)


def _difference(expected: str, got: str) -> str:
    pairs = zip(expected, got, strict=False)
    at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(expected), len(got)))
    window = slice(max(0, at - 30), at + 50)
    return f"at {at}: expected {expected[window]!r}, got {got[window]!r}"


def test_zammad_sender_subject_and_body_agree_with_its_expected_results(parsed):
    boxes = sorted(ZAMMAD.glob("*.box"))
    assert len(boxes) == 106
    senders, subjects, bodies = [], [], []
    for box in boxes:
        expected = yaml.load(box.with_suffix(".yml").read_text(), Loader=_RubyYaml)
        mail = parsed[box]
        want = (expected.get("from_email") or "").lower()
        if want != (mail.from_address or ""):
            senders.append(f"{box.stem}: expected {want!r}, got {mail.from_address!r}")
        if _ws(expected.get("subject")) != mail.subject:
            subjects.append(
                f"{box.stem}: expected {expected.get('subject')!r}, got {mail.subject!r}"
            )
        got_body = _our_body(expected, mail)
        want_body = _expected_body(expected, box, got_body)
        if want_body != got_body:
            bodies.append(
                f"{box.stem} ({expected.get('content_type')}) {_difference(want_body, got_body)}"
            )
    assert _report("Zammad sender address", len(boxes), senders) >= 95
    assert _report("Zammad subject", len(boxes), subjects) >= 95
    assert _report("Zammad body text (whitespace-normalized)", len(boxes), bodies) >= 85


def test_zammad_attachments_are_found_with_the_same_content(parsed):
    boxes = sorted(ZAMMAD.glob("*.box"))
    misses = []
    for box in boxes:
        expected = yaml.load(box.with_suffix(".yml").read_text(), Loader=_RubyYaml)
        wanted = {}
        for attachment in expected.get("attachments") or []:
            preferences = attachment.get("preferences") or {}
            if preferences.get("content-alternative"):  # Zammad keeps the HTML body there
                continue
            data = attachment["data"]
            data = data if isinstance(data, bytes) else data.encode()
            wanted[hashlib.md5(data).hexdigest()] = attachment.get("filename")
        ours = {hashlib.md5(a.data).hexdigest() for a in parsed[box].attachments}
        missing = [name for digest, name in wanted.items() if digest not in ours]
        if missing:
            names = [a.filename for a in parsed[box].attachments]
            misses.append(f"{box.stem}: no byte-equal {missing}; ours {names}")
    # Enclosed messages are rebuilt from their parsed form, so their bytes may differ.
    assert _report("Zammad attachments (every expected one byte-equal)", len(boxes), misses) >= 80


# ---- talon: reply text without the quoted history ------------------------------------------


def test_talon_reply_text_agrees_with_its_fixtures(parsed):
    misses, total = [], 0
    for eml in sorted((TALON / "standard_replies").glob("*.eml")):
        expected_file = eml.with_name(f"{eml.stem}_reply_text")
        expected = expected_file.read_text() if expected_file.exists() else "Hello"
        # talon's expectations keep signatures: compare quote removal alone.
        got = extract_reply(parsed[eml].text, signature=False)
        total += 1
        if _ws(got) != _ws(expected):
            misses.append(f"standard_replies/{eml.name}: got {got[:120]!r}")
    for page in sorted((TALON / "html_replies").glob("*.html")):
        got = extract_reply_html(page.read_text(), signature=False)
        total += 1
        if _ws(got) != _ws("Hi. I am fine.\n\nThanks,\nAlex"):
            misses.append(f"html_replies/{page.name}: got {got[:120]!r}")
    assert total == 21
    assert _report("talon reply text", total, misses) >= 90


def test_talon_replies_lose_their_mobile_signatures_in_the_reply_text(parsed):
    for name in ("iphone", "sparrow"):
        assert parsed[TALON / "standard_replies" / f"{name}.eml"].reply_text == "Hello"


# ---- sisimai: bounces, auto-replies and abuse reports --------------------------------------


_KIND_BY_PREFIX = (
    ("lhost-", MailKind.BOUNCE),
    ("rhost-", MailKind.BOUNCE),
    ("rfc3464-", MailKind.BOUNCE),
    ("rfc3834-", MailKind.AUTO_REPLY),
    ("arf-", MailKind.ABUSE_REPORT),
)


def _expected_kind(path: Path) -> str:
    if path.parent.name == "maildir-not":
        return "not a bounce"
    for prefix, kind in _KIND_BY_PREFIX:
        if path.name.startswith(prefix):
            return kind
    raise AssertionError(f"unexpected sisimai file {path.name}")


def _has_returned_message_id(raw: bytes) -> bool:
    """Whether the report carries the bounced mail's headers with a Message-ID in a part."""
    returned = ("message/rfc822", "text/rfc822-headers")
    return any(
        part.get_content_type() in returned and re.search(rb"(?im)^message-id:", part.as_bytes())
        for part in email.message_from_bytes(raw).walk()
    )


def test_sisimai_reports_are_recognized_by_kind(parsed):
    files = sorted((SISIMAI / "maildir-bsd").glob("*.eml")) + sorted(
        (SISIMAI / "maildir-not").iterdir()
    )
    groups: dict[str, list] = {}
    with_headers = found_ids = with_recipients = 0
    for path in files:
        want = _expected_kind(path)
        result = classify(parsed[path])
        ok = result.kind is not MailKind.BOUNCE if want == "not a bounce" else result.kind == want
        groups.setdefault(str(want), []).append(None if ok else f"{path.name}: {result.kind}")
        if want == MailKind.BOUNCE and result.bounce is not None:
            with_recipients += bool(result.bounce.recipients)
            if _has_returned_message_id(path.read_bytes()):
                with_headers += 1
                found_ids += bool(result.bounce.original_message_id)
    shares = {}
    for kind, outcomes in groups.items():
        shares[kind] = _report(f"sisimai {kind}", len(outcomes), [m for m in outcomes if m])
    bounces = len(groups[MailKind.BOUNCE])
    print(f"\nbounced recipients found in {with_recipients}/{bounces} bounces")
    print(f"original Message-ID found in {found_ids}/{with_headers} bounces returning its headers")
    assert shares[MailKind.BOUNCE] >= 90
    assert shares[MailKind.AUTO_REPLY] == 100
    assert shares[MailKind.ABUSE_REPORT] >= 75
    assert shares["not a bounce"] == 100
    assert found_ids >= 0.95 * with_headers
    assert with_recipients >= 0.8 * bounces
