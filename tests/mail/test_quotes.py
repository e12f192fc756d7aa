"""Separating a reply's new text from the quoted history and the signature."""

import pytest

from helpdesk.mail.quotes import extract_reply, extract_reply_html, strip_quotes, strip_signature


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, Apr 2, 2012 at 6:26 PM, Megan One <megan@example.com> wrote:",
        "On Mon, Apr 2, 2012 at 6:26 PM, Megan One <megan@example.com>\nwrote:",
        "Am 07.05.2012 08:10, schrieb Martin Edenhofer:",
        "Le 3 avr. 2012 à 16:19, Bob <bob@example.com> a écrit :",
        "El 3 abr 2012, a las 16:19, Bob <bob@example.com> escribió:",
        "Em 3 de abr de 2012, às 16:19, Bob <bob@example.com> escreveu:",
        "Il giorno 3 apr 2012, alle ore 16:19, Bob ha scritto:",
        "3 апреля 2012 г., 16:19 пользователь Боб <bob@example.com> написал:",
        "Вторник, 3 апреля 2012, 16:19 +04:00 от Боб <bob@example.com>:",
        "03.04.2012 16:19, Боб пишет:",
        "Bob <bob@example.com> писал(а) 3 апреля 2012:",
        '26.06.2014, 14:41, "Alexander L" <abc@example.com>:',
        "2012年4月3日 16:19 Bob <bob@example.com>:",
        "2012年4月3日 16:19，Bob 写道：",
        "Op 3 apr. 2012 om 16:19 heeft Bob het volgende geschreven:",
    ],
)
def test_reply_header_in_any_common_language_starts_the_quote(header):
    text = f"Thanks, that works.\n\n{header}\n\n> Does it work?\n> Bob"
    assert extract_reply(text) == "Thanks, that works."


def test_sign_off_right_above_a_reply_header_is_kept():
    text = (
        "Sure, will do. Thanks,\nOn Tue, Apr 3, 2012 at 4:19 PM, Bob <b@example.com> wrote:\n> Hi"
    )
    assert extract_reply(text) == "Sure, will do. Thanks,"


def test_unmarked_quote_after_a_reply_header_is_removed():
    text = "Yes.\n\nOn Tue, Apr 3, 2012 at 4:19 PM, Bob <bob@example.com> wrote:\nIs it ok?"
    assert extract_reply(text) == "Yes."


def test_original_message_separator_cuts_everything_below():
    text = "Hello\n\n-----Original Message-----\nFrom: bob\nSent: today\n\nHi"
    assert extract_reply(text) == "Hello"
    assert extract_reply("Hallo\n\n-----Ursprüngliche Nachricht-----\nVon: x\n") == "Hallo"


def test_outlook_header_block_cuts_everything_below():
    text = (
        "Fine, thanks.\n\n________________________________\n"
        "From: Bob Smith [mailto:bob@example.com]\nSent: Monday, April 02, 2012 5:49 PM\n"
        "To: Ann\nSubject: Test\n\nHow are you?"
    )
    assert extract_reply(text) == "Fine, thanks."


def test_header_block_starting_with_the_date_is_cut_whole():
    text = (
        "Siehe unten.\n\nGesendet: Mittwoch, 03. Februar 2016\nVon: Bob\nAn: Ann\nBetreff: x\n\nalt"
    )
    assert extract_reply(text) == "Siehe unten."


def test_localized_outlook_header_block_is_recognized():
    text = "Gut.\n\nVon: Bob\nGesendet: Montag, 2. April 2012 17:49\nAn: Ann\nBetreff: Test\n\nWie?"
    assert extract_reply(text) == "Gut."


def test_trailing_quoted_lines_are_removed():
    assert extract_reply("Hello\n\n> Subject: Test\n> From: bob\n>\n> Hi\n \t ") == "Hello"


def test_reply_written_below_the_quote_is_kept_without_the_quote():
    text = "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\n> there\nHello back"
    assert extract_reply(text) == "Hello back"


def test_answers_between_quoted_lines_keep_their_context():
    text = "> What is your order number?\n1042\n> Which colour?\nRed\n"
    assert strip_quotes(text) == text.strip()


def test_forwarded_message_is_content_not_history():
    text = (
        "Please look at this.\n\n---------- Forwarded message ---------\n"
        "From: Customer <c@example.com>\nDate: Mon, Apr 2, 2012\nSubject: Broken\nTo: me\n\n"
        "It is broken."
    )
    assert extract_reply(text) == text


def test_everything_quoted_returns_the_whole_text():
    assert extract_reply("> only a quote\n> nothing new") == "> only a quote\n> nothing new"


def test_signature_after_dash_dash_space_is_removed():
    assert strip_signature("Thanks for the fix.\n\n-- \nAnn Example\nACME Corp") == (
        "Thanks for the fix."
    )


def test_mobile_signatures_are_removed():
    for signature in ("Sent from my iPhone", "Von meinem iPhone gesendet", "Get Outlook for iOS",
                      "Enviado desde mi Android"):  # fmt: skip
        assert extract_reply(f"On my way.\n\n{signature}") == "On my way."


def test_sign_off_with_a_name_is_kept():
    assert extract_reply("Hi. I am fine.\n\nThanks,\nAlex") == "Hi. I am fine.\n\nThanks,\nAlex"


def test_long_text_after_dashes_is_not_taken_for_a_signature():
    text = "Steps:\n--\n" + "\n".join(f"step {n}" for n in range(30))
    assert strip_signature(text) == text


def test_signature_can_be_kept():
    assert extract_reply("Hello\n\nSent from my iPhone", signature=False) == (
        "Hello\n\nSent from my iPhone"
    )


@pytest.mark.parametrize(
    "quote",
    [
        '<div class="gmail_quote">On Mon, Bob wrote:<blockquote>Hi</blockquote></div>',
        '<blockquote type="cite">Hi</blockquote>',
        '<div class="moz-cite-prefix">On 26.06.2014 14:41, Bob wrote:</div><blockquote>Hi'
        "</blockquote>",
        '<hr><div id="divRplyFwdMsg"><b>From:</b> Bob</div><div>Hi, the old text</div>',
        '<div class="yahoo_quoted">On Monday, Bob wrote: Hi</div>',
        '<span id="OLK_SRC_BODY_SECTION"><div>From: Bob</div><div>Hi</div></span>',
        '<hr id="stopSpelling">Date: Thu<br>Subject: Test<br>From: bob@example.com<br>Hi',
    ],
)
def test_html_quote_containers_are_removed(quote):
    html = f"<div>Hi. I am fine.</div><div><br></div><div>Thanks,</div><div>Alex</div>{quote}"
    assert extract_reply_html(html) == "Hi. I am fine.\n\nThanks,\nAlex"


def test_html_outlook_header_block_without_markup_is_removed_as_text():
    html = (
        "<p>Done.</p><div style='border-top:solid #B5C4DF 1.0pt'><p><b>From:</b> Bob "
        "[mailto:bob@example.com]<br><b>Sent:</b> Thursday<br><b>To:</b> Ann<br>"
        "<b>Subject:</b> Test</p></div><p>Old text</p>"
    )
    assert extract_reply_html(html) == "Done."
