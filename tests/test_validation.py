"""Every input limit in helpdesk.validation, at and just past its edge."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk.errors import ValidationError
from helpdesk.validation import (
    ATTACHMENTS_PER_MESSAGE_MAX,
    BODY_MAX,
    EMAIL_MAX,
    FILENAME_MAX,
    NAME_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    SUBJECT_MAX,
    TAG_MAX,
    TAGS_PER_TICKET_MAX,
    Upload,
    check_uploads,
    clean_body,
    clean_email,
    clean_filename,
    clean_name,
    clean_password,
    clean_subject,
    clean_tags,
)


def _fields(call, *args, **kwargs) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    return caught.value.fields


# --- subject ---------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, "", "   ", "\n\t", "\x00\x07"])
def test_subject_is_required(empty):
    assert _fields(clean_subject, empty) == {"subject": "Required."}


def test_subject_at_the_limit_is_kept_and_one_more_character_is_refused():
    assert clean_subject("s" * SUBJECT_MAX) == "s" * SUBJECT_MAX
    with pytest.raises(ValidationError, match=f"{SUBJECT_MAX + 1} characters; at most"):
        clean_subject("s" * (SUBJECT_MAX + 1))


def test_subject_whitespace_and_newlines_collapse_to_single_spaces():
    # A newline in a subject would split a mail header: it must never survive.
    assert clean_subject("  Printer\r\n  broken\tagain ") == "Printer broken again"


def test_subject_length_is_counted_after_collapsing_whitespace():
    assert len(clean_subject("a" + " " * 1000 + "b")) == 3


# --- body ------------------------------------------------------------------------------------


def test_body_is_required_unless_optional():
    assert _fields(clean_body, "  \n ") == {"body": "Required."}
    assert _fields(clean_body, "", field="note") == {"note": "Required."}
    assert clean_body("", required=False) == ""


def test_body_at_the_limit_is_kept_and_one_more_character_is_refused():
    assert len(clean_body("b" * BODY_MAX)) == BODY_MAX
    with pytest.raises(ValidationError, match="too long"):
        clean_body("b" * (BODY_MAX + 1))


def test_body_keeps_lines_and_tabs_but_drops_control_characters():
    assert clean_body("Line 1\r\n\tLine 2\x00\x1b[31m\n") == "Line 1\n\tLine 2[31m"


# --- name ------------------------------------------------------------------------------------


def test_name_is_required_and_limited():
    assert _fields(clean_name, "  ") == {"name": "Required."}
    assert _fields(clean_name, None, field="team") == {"team": "Required."}
    assert clean_name("n" * NAME_MAX) == "n" * NAME_MAX
    assert _fields(clean_name, "n" * (NAME_MAX + 1)) == {"name": f"At most {NAME_MAX} characters."}
    assert clean_name("  Ada \n Lovelace ") == "Ada Lovelace"


# --- e-mail ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Alice@Example.TEST", "alice@example.test"),
        ("  bob@example.test \n", "bob@example.test"),
        ("first.last+tag@sub.example.test", "first.last+tag@sub.example.test"),
    ],
)
def test_email_is_normalized_to_lower_case(raw, stored):
    assert clean_email(raw) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "plainaddress",
        "@example.test",
        "alice@",
        "alice@@example.test",
        "alice example@example.test",
        "Alice <alice@example.test>",
        "alice@example..test",
        "alice@example.test\nBcc: eve@example.test",
    ],
)
def test_bad_email_addresses_are_refused_naming_the_field(bad):
    with pytest.raises(ValidationError, match="not a valid e-mail address") as caught:
        clean_email(bad, field="requester")
    assert set(caught.value.fields) == {"requester"}


def test_email_required_and_too_long():
    assert _fields(clean_email, "   ") == {"email": "Required."}
    too_long = "a" * 64 + "@" + ".".join(["d" * 60] * 4) + ".test"
    assert len(too_long) > EMAIL_MAX
    assert _fields(clean_email, too_long) == {"email": "Too long."}


# --- password --------------------------------------------------------------------------------


def test_password_length_limits():
    assert clean_password("p" * PASSWORD_MIN) == "p" * PASSWORD_MIN
    assert clean_password("p" * PASSWORD_MAX) == "p" * PASSWORD_MAX
    assert _fields(clean_password, "p" * (PASSWORD_MIN - 1)) == {
        "password": f"At least {PASSWORD_MIN} characters."
    }
    assert _fields(clean_password, None) == {"password": f"At least {PASSWORD_MIN} characters."}
    assert _fields(clean_password, "p" * (PASSWORD_MAX + 1)) == {"password": "Too long."}


def test_password_is_not_trimmed():
    # Spaces are part of a passphrase; trimming would silently change it.
    assert clean_password("  ten chars ") == "  ten chars "


# --- tags ------------------------------------------------------------------------------------


def test_tags_are_normalized_deduplicated_and_blank_ones_dropped():
    assert clean_tags([" VIP ", "vip", "", "  ", "Billing.EU", "sla-1_b"]) == [
        "vip",
        "billing.eu",
        "sla-1_b",
    ]


@pytest.mark.parametrize(
    "bad",
    ["two words", "semi;colon", "-leading-dash", ".hidden", "slash/tag", "a\nb", "t" * 51],
)
def test_invalid_tags_are_refused(bad):
    assert _fields(clean_tags, ["ok", bad]) == {"tags": "Invalid tag."}


def test_tag_length_limit_is_inclusive():
    assert clean_tags(["t" * TAG_MAX]) == ["t" * TAG_MAX]


def test_too_many_tags_are_refused_but_duplicates_do_not_count():
    enough = [f"tag{i}" for i in range(TAGS_PER_TICKET_MAX)]
    assert clean_tags(enough + ["TAG0", "tag1"]) == enough
    assert _fields(clean_tags, enough + ["one-more"]) == {"tags": "Too many tags."}


# --- filenames -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system32\\evil.dll", "evil.dll"),
        ("/absolute/path/report.pdf", "report.pdf"),
        ("C:\\Users\\me\\Desktop\\scan 1.png", "scan 1.png"),
        ("in\x00voice\x1f.pdf", "invoice.pdf"),
        ("line\r\nbreak.txt", "line break.txt"),
        ("c1\x9b31mcontrol.txt", "c131mcontrol.txt"),
        ("  spaced   out .txt  ", "spaced out .txt"),
        ("...", "attachment"),
        ("..", "attachment"),
        ("../", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
        (". . .", "attachment"),
        (". .. .", "attachment"),
        (".bashrc", "bashrc"),
    ],
)
def test_filename_is_made_safe(raw, clean):
    assert clean_filename(raw) == clean


def test_long_filename_is_cut_but_keeps_its_extension():
    name = clean_filename("x" * 400 + ".pdf")
    assert len(name) == FILENAME_MAX and name.endswith(".pdf")


def test_long_filename_with_a_long_suffix_is_simply_cut():
    name = clean_filename("x" * 300 + "." + "y" * 40)
    assert len(name) == FILENAME_MAX and name == "x" * FILENAME_MAX


def test_filename_at_the_limit_is_unchanged():
    exact = "f" * (FILENAME_MAX - 4) + ".txt"
    assert clean_filename(exact) == exact


@settings(max_examples=50, deadline=None, database=None)
@given(st.text(max_size=400))
def test_clean_filename_never_returns_a_path_or_an_empty_name(raw):
    name = clean_filename(raw)
    assert name and "/" not in name and "\\" not in name
    assert not name.startswith(".")  # neither "." nor ".." nor a hidden file
    assert len(name) <= FILENAME_MAX
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in name)


@settings(max_examples=50, deadline=None, database=None)
@given(st.text(max_size=SUBJECT_MAX + 40))
def test_clean_subject_fits_the_limit_or_raises(raw):
    try:
        subject = clean_subject(raw)
    except ValidationError as exc:
        assert set(exc.fields) == {"subject"}
        return
    assert 0 < len(subject) <= SUBJECT_MAX
    assert "\n" not in subject and "\r" not in subject


# --- uploads ---------------------------------------------------------------------------------


def _upload(size: int, name: str = "file.bin") -> Upload:
    return Upload(filename=name, content_type="application/octet-stream", data=b"x" * size)


def test_upload_count_limit():
    check_uploads([_upload(1)] * ATTACHMENTS_PER_MESSAGE_MAX)
    with pytest.raises(ValidationError, match="Too many files") as caught:
        check_uploads([_upload(1)] * (ATTACHMENTS_PER_MESSAGE_MAX + 1))
    assert set(caught.value.fields) == {"attachments"}


def test_upload_size_limit_is_inclusive_and_names_the_file():
    limit = 1024 * 1024
    check_uploads([_upload(limit)], max_bytes=limit)
    with pytest.raises(ValidationError, match="“big.iso” is too large") as caught:
        check_uploads([_upload(1), _upload(limit + 1, "../big.iso")], max_bytes=limit)
    assert caught.value.fields == {"attachments": "At most 1 MB per file."}


def test_no_uploads_is_fine():
    check_uploads([])
