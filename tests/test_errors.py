"""A domain error's message: English with its values filled in for the API and the commands,
and the same sentence in the reader's language for the pages."""

from flask_babel import refresh

from helpdesk.errors import Conflict, RateLimited, ValidationError


def test_the_english_message_has_its_values_filled_in():
    error = Conflict("A team named %(name)s exists already.", name="'Support'")

    assert error.message == str(error) == "A team named 'Support' exists already."


def test_a_message_without_values_keeps_a_percent_sign_as_written():
    assert ValidationError("100% sure.").message == "100% sure."
    assert ValidationError("%(n)s%% done.", n=5).message == "5% done."


def test_fields_and_the_wait_stay_beside_the_values():
    error = RateLimited("Try again in %(minutes)s minutes.", 120, minutes=2)

    assert (error.message, error.retry_after) == ("Try again in 2 minutes.", 120)
    invalid = ValidationError("Please give a subject.", {"subject": "Required."})
    assert invalid.fields == {"subject": "Required."}


def _in(app, path):
    context = app.test_request_context(path)
    context.push()
    refresh()  # as each request does: the test's app context outlives one request
    return context


def test_the_translation_follows_the_request_language(app):
    error = ValidationError("Please give a subject.", {"subject": "Required."})

    for path, text in [
        ("/?lang=ru", "Укажите тему."),
        ("/?lang=pt_BR", "Informe um assunto."),
        ("/", "Please give a subject."),
    ]:
        context = _in(app, path)
        try:
            assert error.translated() == text
        finally:
            context.pop()


def test_a_message_the_catalog_does_not_know_is_shown_in_english(app):
    error = Conflict("Something %(odd)s happened.", odd="odd")

    context = _in(app, "/?lang=ru")
    try:
        assert error.translated() == "Something odd happened."
    finally:
        context.pop()
