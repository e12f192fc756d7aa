"""parse_message on small hand-written mails, one hardening case each."""

import base64
import binascii
import tracemalloc
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from helpdesk.mail.parse import MailTooLarge, decode_bytes, parse_message


def raw(headers: str, body: bytes | str = b"Hello\n") -> bytes:
    """A mail from header lines and a body; headers get a From and Subject if missing."""
    lines = headers.strip("\n").split("\n") if headers.strip() else []
    if not any(line.lower().startswith("from:") for line in lines):
        lines.insert(0, "From: Ann <ann@example.com>")
    body = body.encode() if isinstance(body, str) else body
    return ("\n".join(lines) + "\n\n").encode("latin-1") + body


def text_mail(charset: str, body: bytes, cte: str = "8bit") -> bytes:
    return raw(
        f"Subject: x\nContent-Type: text/plain; charset={charset}\n"
        f"Content-Transfer-Encoding: {cte}",
        body,
    )


# ---- charsets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("utf-8", "Grüße, Жанна, 你好"),
        ("koi8-r", "Здравствуйте, это письмо в KOI8-R"),
        ("windows-1251", "Добрый день, Сергей"),
        ("iso-8859-2", "Zażółć gęślą jaźń"),
        ("iso-8859-15", "Prix: 10 € net"),
        ("windows-1250", "Dobrý den, Čtvrtek"),
        ("windows-1252", "“Smart quotes” – naïve café"),
        ("big5", "繁體中文"),
        ("shift_jis", "日本語のテキスト"),
        ("euc-kr", "안녕하세요"),
    ],
)
def test_body_in_a_declared_charset_is_decoded(charset, text):
    mail = parse_message(text_mail(charset, text.encode(charset)))
    assert mail.text == text
    assert mail.defects == []


def test_latin1_body_with_windows_1252_punctuation_reads_as_browsers_do():
    mail = parse_message(text_mail("iso-8859-1", "It’s 5 € – done".encode("cp1252")))
    assert mail.text == "It’s 5 € – done"


def test_gb2312_body_with_characters_only_in_gbk_is_decoded_as_gb18030():
    # 镕 is not in GB2312; Chinese mailers send it under that label anyway.
    mail = parse_message(text_mail("gb2312", "朱镕基的讲话".encode("gbk")))
    assert mail.text == "朱镕基的讲话"


def test_iso_2022_jp_body_with_nec_circled_digits_is_decoded():
    jis = b"\x1b$B\x2d\x21\x24\x22\x1b(B ok"  # ① あ in JIS X 0208 with the NEC row 13
    mail = parse_message(text_mail("iso-2022-jp", jis, cte="7bit"))
    assert mail.text == "①あ ok"


def test_iso_2022_jp_body_is_decoded():
    mail = parse_message(text_mail("ISO-2022-JP", "メルマガ解除".encode("iso2022_jp"), "7bit"))
    assert mail.text == "メルマガ解除"


def test_utf7_body_is_decoded():
    mail = parse_message(text_mail("utf-7", "Übermittlung fehlgeschlagen".encode("utf-7"), "7bit"))
    assert mail.text == "Übermittlung fehlgeschlagen"


def test_unknown_charset_falls_back_to_utf8_and_says_so():
    mail = parse_message(text_mail("x-no-such-charset", "Grüße".encode()))
    assert mail.text == "Grüße"
    assert any("unknown charset" in defect for defect in mail.defects)


def test_misspelled_charset_names_are_understood():
    for charset in ('"UTF8"', "utf8", "'windows-1251'", "win-1251", "cp-1251"):
        body = "Привет".encode("cp1251" if "1251" in charset else "utf-8")
        assert parse_message(text_mail(charset, body)).text == "Привет", charset


def test_undeclared_8bit_body_is_read_as_utf8_when_valid_else_windows_1252():
    utf8 = parse_message(raw("Subject: x", "Grüße aus Köln".encode()))
    cp1252 = parse_message(raw("Subject: x", "Grüße aus Köln".encode("cp1252")))
    assert utf8.text == cp1252.text == "Grüße aus Köln"


def test_ascii_declared_body_with_8bit_bytes_is_still_readable():
    assert parse_message(text_mail("us-ascii", "Gruß".encode("cp1252"))).text == "Gruß"


def test_utf8_body_with_stray_windows_1252_bytes_keeps_both():
    body = "Grüße ".encode() + "naïve".encode("cp1252")
    assert parse_message(text_mail("utf-8", body)).text == "Grüße naïve"


def test_null_bytes_never_reach_the_text():
    assert "\x00" not in parse_message(raw("Subject: a\x00b", b"te\x00xt")).text


def test_decode_bytes_refuses_codecs_that_are_not_charsets():
    assert decode_bytes(b"\\u0041 hi", "unicode_escape") == "\\u0041 hi"
    assert decode_bytes(b"aGk=", "base64") == "aGk="


# ---- headers -------------------------------------------------------------------------------


def test_encoded_word_subject_is_decoded_and_whitespace_normalized():
    mail = parse_message(
        raw("Subject: =?utf-8?B?R3LDvMOfZQ==?=\n =?iso-8859-1?Q?_aus_K=F6ln?=   \t today")
    )
    assert mail.subject == "Grüße aus Köln today"


def test_multibyte_character_split_across_encoded_words_is_joined():
    encoded = "你好".encode()
    first = base64.b64encode(encoded[:2]).decode()
    second = base64.b64encode(encoded[2:]).decode()
    mail = parse_message(raw(f"Subject: =?UTF-8?B?{first}?= =?UTF-8?B?{second}?="))
    assert mail.subject == "你好"


def test_malformed_encoded_words_are_decoded_leniently():
    mail = parse_message(raw("Subject: =?utf-8?B?R3LDvMOfZQ?=x =?utf-8?Q?a b?= =?bogus?Q?ok?="))
    assert mail.subject == "Grüßex a bok"


def test_encoded_word_inside_a_quoted_display_name_is_decoded():
    mail = parse_message(raw('From: "=?utf-8?Q?J=C3=B6rg_M=C3=BCller?=" <Joerg@Example.COM>'))
    assert (mail.from_name, mail.from_address) == ("Jörg Müller", "joerg@example.com")


def test_encoded_comma_in_a_display_name_does_not_split_the_address():
    mail = parse_message(raw("From: =?iso-8859-1?Q?B=FCrling,=20Andreas?= <smith@example.com>"))
    assert (mail.from_name, mail.from_address) == ("Bürling, Andreas", "smith@example.com")


def test_raw_8bit_headers_are_decoded_with_the_charset_the_body_declares():
    mail = parse_message(
        b"From: ann@example.com\nSubject: " + "Привет".encode("koi8-r") + b"\n"
        b"Content-Type: text/plain; charset=koi8-r\n\nx"
    )
    assert mail.subject == "Привет"


def test_recipients_and_reply_to_are_kept_as_name_address_pairs():
    mail = parse_message(
        raw(
            "From: Ann <ann@example.com>\nTo: Support <Support@Example.com>, bob@example.com\n"
            'Cc: "Carl, C." <carl@example.com>\nReply-To: Team <team+t42.abc@example.com>'
        )
    )
    assert mail.to == [("Support", "support@example.com"), ("", "bob@example.com")]
    assert mail.cc == [("Carl, C.", "carl@example.com")]
    assert mail.reply_to == [("Team", "team+t42.abc@example.com")]
    assert mail.from_address == "ann@example.com"


def test_sender_falls_back_to_reply_to_when_from_has_no_address():
    mail = parse_message(raw('From: "Someone" <>\nReply-To: <real@example.com>'))
    assert mail.from_address == "real@example.com"
    assert any("taken from reply-to" in defect for defect in mail.defects)


def test_message_ids_are_normalized_with_angle_brackets():
    mail = parse_message(
        raw(
            "Message-ID:  abc@example.com \nIn-Reply-To: <p1@x> (sent by Bob)\n"
            "References: <r1@x>\n <r2@x> <r1@x>"
        )
    )
    assert mail.message_id == "<abc@example.com>"
    assert mail.in_reply_to == "<p1@x>"
    assert mail.references == ["<r1@x>", "<r2@x>"]


def test_mail_without_message_id_has_none():
    assert parse_message(raw("Subject: no id")).message_id is None


def test_date_is_timezone_aware_and_a_bad_date_is_a_defect():
    good = parse_message(raw("Date: Mon, 2 Apr 2012 18:22:10 +0400"))
    naive = parse_message(raw("Date: Mon, 2 Apr 2012 18:22:10 -0000"))
    bad = parse_message(raw("Date: yesterday-ish"))
    assert good.date == datetime(2012, 4, 2, 14, 22, 10, tzinfo=UTC)
    assert naive.date.tzinfo is not None
    assert bad.date is None and any("Date" in defect for defect in bad.defects)


def test_header_continuations_without_indentation_do_not_hide_later_headers():
    mail = parse_message(
        b"Received: from a (1.1.1.1) by\nb.example.com with SMTP id\n15.0; Wed, 5 Apr 2017\n"
        b"From: Ann <ann@example.com>\nSubject: Still here\n\nBody"
    )
    assert (mail.subject, mail.text) == ("Still here", "Body")


def test_junk_line_before_the_headers_is_dropped():
    mail = parse_message(b"---- Original email message ----\nFrom: a@example.com\nSubject: s\n\nB")
    assert (mail.from_address, mail.subject, mail.text) == ("a@example.com", "s", "B")


def test_byte_order_mark_before_the_headers_is_ignored():
    mail = parse_message(b"\xef\xbb\xbfFrom: a@example.com\nSubject: s\n\nB")
    assert (mail.from_address, mail.subject, mail.text) == ("a@example.com", "s", "B")


def test_text_without_headers_keeps_all_its_lines():
    text = "Hello team,\nplease note\nthe following:\nNote: the server is down\n\nBye"
    assert parse_message(text.encode()).text == text


def test_body_without_an_empty_line_after_the_headers_is_found():
    mail = parse_message(b"From: a@example.com\nSubject: s\nHello there\n\nBye")
    assert mail.subject == "s"
    assert mail.text == "Hello there\n\nBye"


def test_important_raw_headers_are_kept_for_classification():
    mail = parse_message(
        raw(
            "Auto-Submitted: auto-replied\nX-Spam-Flag: YES\nList-Id: <l.example.com>\n"
            "Return-Path: <>\nPrecedence: bulk\nX-Auto-Response-Suppress: All"
        )  # fmt: skip
    )
    assert mail.headers["auto-submitted"] == "auto-replied"
    assert mail.headers["x-spam-flag"] == "YES"
    assert mail.headers["return-path"] == "<>"
    assert mail.headers["x-auto-response-suppress"] == "All"


# ---- structure -----------------------------------------------------------------------------

ALTERNATIVE = """\
Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Plain version
--b1
Content-Type: text/html; charset=utf-8

<p>HTML <b>version</b></p>
--b1--
"""


def test_alternative_takes_text_from_plain_and_html_from_html():
    mail = parse_message(raw(ALTERNATIVE))
    assert mail.text == "Plain version"
    assert mail.html == "<p>HTML <b>version</b></p>"
    assert mail.attachments == []


def test_html_only_mail_gets_text_derived_from_the_html():
    html = (
        "<html><head><style>p{color:red}</style><title>T</title></head><body>"
        "<h1>News</h1><p>Line&nbsp;one<br>Line two &amp; more</p>"
        "<ul><li>first</li><li>second</li></ul>"
        '<p>See <a href="https://example.com/x">our site</a>.</p>'
        "<script>alert(1)</script></body></html>"
    )
    mail = parse_message(raw("Content-Type: text/html; charset=utf-8", html))
    assert mail.text == (
        "News\n\nLine one\nLine two & more\n\n- first\n- second\n\n"
        "See our site (https://example.com/x)."
    )


def test_missing_boundary_parameter_is_guessed_from_the_body():
    body = (
        "--XyZ\nContent-Type: text/plain\n\nThe text\n"
        "--XyZ\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\n"
        "JVBERi0=\n--XyZ--\n"
    )
    mail = parse_message(raw("Content-Type: multipart/mixed", body))
    assert mail.text == "The text"
    assert [(a.filename, a.data) for a in mail.attachments] == [("a.pdf", b"%PDF-")]
    assert any("boundary" in defect for defect in mail.defects)


def test_missing_final_boundary_keeps_the_last_part():
    body = "--b\nContent-Type: text/plain\n\nOnly part\n--b\nContent-Type: text/plain\n\nLast"
    mail = parse_message(raw('Content-Type: multipart/mixed; boundary="b"', body))
    assert mail.text == "Only part\n\nLast"


def test_rfc2231_filenames_are_decoded():
    body = (
        "--b\nContent-Type: text/plain\n\nsee attached\n"
        "--b\nContent-Type: application/octet-stream\n"
        "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf\n\nx\n"
        "--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment;\n"
        " filename*0*=iso-8859-1''%FCber; filename*1*=%20den%20;\n filename*2=Fluss.txt\n\ny\n"
        '--b\nContent-Type: application/pdf; name="=?utf-8?B?w4RyZ2VyLnBkZg==?="\n\nz\n--b--\n'
    )
    mail = parse_message(raw('Content-Type: multipart/mixed; boundary="b"', body))
    assert [a.filename for a in mail.attachments] == [
        "€ rates.pdf", "über den Fluss.txt", "Ärger.pdf"
    ]  # fmt: skip


def test_attachment_names_cannot_escape_a_directory():
    body = (
        "--b\nContent-Type: text/plain\n\nt\n--b\nContent-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="../../etc/passwd"\n\nx\n--b--\n'
    )
    mail = parse_message(raw('Content-Type: multipart/mixed; boundary="b"', body))
    assert mail.attachments[0].filename == "passwd"


def test_uuencoded_file_in_a_text_body_becomes_an_attachment():
    data = b"id;name\n1;Ann\n"
    encoded = binascii.b2a_uu(data).decode()
    body = f"Report attached.\n\nbegin 644 report.csv\n{encoded}`\nend\n\nBye"
    mail = parse_message(raw("Subject: uu", body))
    assert mail.text == "Report attached.\n\n\n\nBye"
    assert [(a.filename, a.content_type, a.data) for a in mail.attachments] == [
        ("report.csv", "text/csv", data)
    ]


def test_x_uuencode_part_is_decoded():
    encoded = binascii.b2a_uu(b"hello world").decode()
    body = (
        "--b\nContent-Type: text/plain\n\nsee\n--b\nContent-Type: application/msword; name=a.doc\n"
        f"Content-Transfer-Encoding: x-uuencode\n\nbegin 600 a.doc\n{encoded}`\nend\n--b--\n"
    )
    mail = parse_message(raw('Content-Type: multipart/mixed; boundary="b"', body))
    assert mail.attachments[0].data == b"hello world"


NESTED = """\
Subject: Fwd: invoice
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain

See the forwarded mail.
--outer
Content-Type: message/rfc822

From: Vendor <vendor@example.com>
Subject: Invoice 42
Content-Type: text/plain

Please pay invoice 42.
--outer--
"""


def test_enclosed_message_is_an_eml_attachment_and_not_our_body():
    mail = parse_message(raw(NESTED))
    assert mail.text == "See the forwarded mail."
    (enclosed,) = mail.attachments
    assert (enclosed.filename, enclosed.content_type) == ("Invoice 42.eml", "message/rfc822")
    assert b"Subject: Invoice 42" in enclosed.data
    assert b"Please pay invoice 42." in enclosed.data
    assert parse_message(enclosed.data).subject == "Invoice 42"


def test_tnef_winmail_dat_is_kept_as_an_attachment():
    body = (
        "--b\nContent-Type: text/plain\n\nHi\n--b\nContent-Type: application/ms-tnef; "
        'name="winmail.dat"\nContent-Transfer-Encoding: base64\n\neJ8+IgAAAQ==\n--b--\n'
    )
    mail = parse_message(raw('Content-Type: multipart/mixed; boundary="b"', body))
    (tnef,) = mail.attachments
    assert (tnef.filename, tnef.content_type) == ("winmail.dat", "application/ms-tnef")
    assert tnef.data == base64.b64decode("eJ8+IgAAAQ==") and tnef.size == 7


def test_inline_image_of_a_related_html_body_is_an_inline_attachment():
    png = base64.b64encode(b"\x89PNG fake").decode()
    body = (
        '--r\nContent-Type: text/html\n\n<p>Logo: <img src="cid:logo@x"></p>\n'
        f"--r\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64"
        f"\n\n{png}\n--r--\n"
    )
    mail = parse_message(raw('Content-Type: multipart/related; boundary="r"', body))
    assert '<img src="cid:logo@x">' in mail.html
    (image,) = mail.attachments
    assert (image.content_id, image.inline, image.data) == ("logo@x", True, b"\x89PNG fake")


def test_broken_base64_is_repaired_as_far_as_possible():
    body = (
        "--b\nContent-Type: text/plain\n\nt\n--b\nContent-Type: application/octet-stream; "
        "name=x.bin\nContent-Transfer-Encoding: base64\n\naGVsbG8*gd29y#bGQ\n--b--\n"
    )
    mail = parse_message(raw('Content-Type: multipart/mixed; boundary="b"', body))
    assert mail.attachments[0].data == b"hello world"


def test_unknown_transfer_encoding_is_read_as_8bit():
    mail = parse_message(text_mail("utf-8", "Grüße".encode(), cte="UTF-8"))
    assert mail.text == "Grüße"
    assert any("Content-Transfer-Encoding" in defect for defect in mail.defects)


def test_format_flowed_text_is_unwrapped():
    body = "This is a long \nparagraph. \nEnd.\n> quoted \n> more\n-- \nsig"
    mail = parse_message(raw("Content-Type: text/plain; charset=utf-8; format=flowed", body))
    assert mail.text == "This is a long paragraph. End.\n> quoted more\n-- \nsig"


def test_reply_text_leaves_out_quoted_history_and_signature():
    body = "Works now!\n\n-- \nAnn\n\nOn Mon, 2 Mar 2026, Bob <b@example.com> wrote:\n> Again"
    mail = parse_message(raw("Subject: Re: [#1042] Printer", body))
    assert mail.reply_text == "Works now!"
    assert mail.text == body.strip()


def test_forwarded_mail_keeps_the_forwarded_text_as_its_reply_text():
    body = "FYI\n\n-----Original Message-----\nFrom: Customer\nSent: today\n\nIt is broken."
    assert parse_message(raw("Subject: Fwd: broken", body)).reply_text == body


# ---- HTML safety ---------------------------------------------------------------------------

HOSTILE = """\
<html><head><style>body{display:none}</style><script>steal()</script></head><body>
<p onclick="steal()" style="color: red; position: fixed; background-image: url(http://t/x)">Hi</p>
<img src="https://tracker.example/pixel.gif" onerror="steal()" alt="pixel">
<img src="cid:part1@example">
<img src="data:image/png;base64,iVBORw0KGgo=">
<a href="javascript:steal()">click</a> <a href="data:text/html,<script>x</script>">data</a>
<a href="https://example.com/ok">ok</a>
<form action="https://evil.example"><input name="password"></form>
<iframe src="https://evil.example"></iframe><object data="x.swf"></object>
</body></html>
"""


@pytest.fixture(scope="module")
def hostile():
    return parse_message(raw("Content-Type: text/html; charset=utf-8", HOSTILE)).html


def test_scripts_styles_and_event_handlers_are_removed(hostile):
    for forbidden in ("<script", "steal()", "onclick", "onerror", "<style", "display:none"):
        assert forbidden not in hostile


def test_forms_frames_and_objects_are_removed(hostile):
    for forbidden in ("<form", "<input", "<iframe", "<object", "evil.example"):
        assert forbidden not in hostile


def test_remote_images_are_blocked_until_the_agent_consents(hostile):
    assert 'data-blocked-src="https://tracker.example/pixel.gif"' in hostile
    assert ' src="https://tracker.example' not in hostile
    assert "url(http://t/x)" not in hostile and "position" not in hostile


def test_cid_and_inline_data_images_stay(hostile):
    assert '<img src="cid:part1@example">' in hostile
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in hostile


def test_dangerous_links_lose_their_target_and_safe_ones_open_apart(hostile):
    assert "javascript:" not in hostile and "data:text/html" not in hostile
    assert (
        '<a href="https://example.com/ok" rel="nofollow noopener noreferrer" target="_blank">ok'
        in hostile
    )


class _Attributes(HTMLParser):
    """Every attribute name a browser would see in a piece of HTML."""

    def __init__(self, html: str):
        super().__init__()
        self.names: set[str] = set()
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.names.update(name for name, _ in attrs)


def test_markup_inside_attribute_values_cannot_break_out():
    html = (
        '<img alt="<a onerror=steal()//" src="cid:x"><a title="<a b=" href="https://x.test">y</a>'
    )
    sanitized = parse_message(raw("Content-Type: text/html", html)).html
    assert _Attributes(sanitized).names == {"alt", "src", "title", "href", "rel", "target"}


def test_hostile_mail_has_no_event_handler_attributes(hostile):
    assert not [name for name in _Attributes(hostile).names if name.startswith("on")]


# ---- limits and garbage --------------------------------------------------------------------


def test_mail_over_the_size_limit_raises_mail_too_large():
    message = raw("Subject: big", "x" * 2000)
    with pytest.raises(MailTooLarge) as error:
        parse_message(message, max_size=1000)
    assert (error.value.size, error.value.limit) == (len(message), 1000)
    assert parse_message(message, max_size=len(message)).subject == "big"


def test_markup_that_html_parser_gives_up_on_still_yields_text():
    html = "<p>Hello <![if !x]> there<![ <b>world</b> &amp; more</p><![&amp"
    mail = parse_message(raw("Content-Type: text/html", html))
    assert "Hello" in mail.text and "world" in mail.text and "& more" in mail.text


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00\xff\xfe" * 100, b"no headers at all", b"Content-Type: multipart/mixed\n\n--",
     b"From: \n\n", b"Subject: =?utf-8?B?====?=\n\n", b"\n\n\n" * 50, bytes(range(256)) * 4],
)  # fmt: skip
def test_garbage_never_raises(garbage):
    mail = parse_message(garbage)
    assert mail.raw_size == len(garbage)


def test_deeply_nested_multiparts_are_cut_off_with_a_defect():
    depth = 60
    head = "".join(f'--b{i}\nContent-Type: multipart/mixed; boundary="b{i + 1}"\n\n'
                   for i in range(depth))  # fmt: skip
    tail = "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    message = raw('Content-Type: multipart/mixed; boundary="b0"', head + f"--b{depth}--\n" + tail)
    mail = parse_message(message)
    assert any("nested" in defect for defect in mail.defects)


def test_a_20_mb_attachment_is_parsed_with_bounded_memory():
    payload = bytes(range(256)) * (15 * 1024 * 1024 // 256)
    encoded = base64.encodebytes(payload).decode()
    body = (
        "--b\nContent-Type: text/plain\n\nbig file\n--b\nContent-Type: application/zip; "
        f"name=big.zip\nContent-Transfer-Encoding: base64\n\n{encoded}--b--\n"
    )
    message = raw('Content-Type: multipart/mixed; boundary="b"', body)
    assert len(message) > 20 * 1024 * 1024
    tracemalloc.start()
    try:
        mail = parse_message(message)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert mail.attachments[0].data == payload
    assert peak < 4 * len(message), f"peak {peak / 1e6:.0f} MB"
