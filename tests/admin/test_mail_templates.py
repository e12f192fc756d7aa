"""The mail template editor: admins list, edit, preview, save and reset each kind of mail per
language; broken templates are refused with the reason; the preview cannot run script; changes
are audited; the next mail uses the saved wording."""

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.mail.templates_store import MailTemplate, render_mail
from helpdesk.tickets.models import AuditEvent
from tests.agent.conftest import page
from tests.conftest import login

URL = "/agent/admin/mail-templates"
GOOD = {
    "subject": "Wir haben {{ ticket.reference }}",
    "body_text": "Hallo {{ recipient.name }}, danke für {{ ticket.subject }}.",
    "body_html": "<p>Hallo {{ recipient.name }}</p>",
}


@pytest.fixture
def admin(make):
    user = make.admin(email="admin@desk.test")
    db.session.commit()
    return user


def _signed_in(app, email: str):
    client = app.test_client()
    login(client, email)
    return client


@pytest.fixture
def admin_client(app, admin):
    return _signed_in(app, admin.email)


@pytest.fixture
def agent_client(app, make):
    agent = make.agent(email="alice@desk.test")
    db.session.commit()
    return _signed_in(app, agent.email)


def _audits() -> list[tuple[str, str | None, str | None]]:
    db.session.expire_all()
    return [
        (a.action, a.old_value, a.new_value)
        for a in db.session.execute(
            select(AuditEvent).where(AuditEvent.ticket_id.is_(None)).order_by(AuditEvent.id)
        ).scalars()
        if a.action.startswith("mail_template.")
    ]


def test_the_list_shows_every_kind_in_every_language_and_the_index_links_it(admin_client):
    index = page(admin_client.get("/agent/admin/"))
    listing = admin_client.get(URL)

    assert URL in index
    assert listing.status_code == 200
    body = page(listing)
    for kind in ("acknowledge", "reply", "resolved", "agent_mention", "too_large"):
        for locale in ("en", "pt_BR", "ru"):
            assert f"{URL}/{kind}/{locale}" in body


def test_agents_cannot_open_the_editor(agent_client):
    assert agent_client.get(URL).status_code == 403
    assert agent_client.post(f"{URL}/reply/en", data={**GOOD, "action": "save"}).status_code == 403
    assert db.session.execute(select(MailTemplate)).first() is None


def test_the_editor_starts_from_the_built_in_wording_and_lists_the_placeholders(admin_client):
    body = page(admin_client.get(f"{URL}/acknowledge/pt_BR"))

    assert "uses the built-in wording" in body
    assert "ticket.reference" in body and "recipient.name" in body and "#1042" in body
    assert 'name="body_html"' in body and "{{" in body  # the sources, escaped into textareas


def test_preview_renders_the_sample_ticket_without_saving(admin_client):
    response = admin_client.post(f"{URL}/acknowledge/en", data={**GOOD, "action": "preview"})

    body = page(response)
    assert response.status_code == 200
    assert "Wir haben #1042" in body
    assert "Hallo Ada Lovelace, danke für The printer jams." in body
    assert db.session.execute(select(MailTemplate)).first() is None


def test_the_html_preview_cannot_run_script(admin_client):
    evil = {
        **GOOD,
        "body_html": '<p onclick="steal()">Hi</p><script>go()</script><img src=x onerror=a()>',
    }
    body = page(admin_client.post(f"{URL}/reply/en", data={**evil, "action": "preview"}))

    frame = body[body.index("<iframe") : body.index("</iframe>")]
    assert "sandbox" in frame
    assert "<script" not in frame and "&lt;script" not in frame
    assert "onclick" not in frame and "onerror" not in frame
    assert "&lt;p&gt;Hi&lt;/p&gt;" in frame  # shown, as inert markup in srcdoc


def test_a_syntax_error_is_refused_with_its_line(admin_client):
    broken = {**GOOD, "body_text": "Hello\n{{ recipient.name }\nBye", "action": "save"}

    response = admin_client.post(f"{URL}/closed/en", data=broken)

    assert response.status_code == 400
    body = page(response)
    assert "line 2" in body and "does not work" in body
    assert "{{ recipient.name }" in body  # what was typed is kept
    assert db.session.execute(select(MailTemplate)).first() is None


def test_a_template_that_fails_with_the_sample_ticket_is_refused(admin_client):
    unknown = {**GOOD, "body_html": "<p>{{ ticket.invoice.total }}</p>", "action": "save"}
    dividing = {**GOOD, "body_text": "{{ ticket.number / 0 }}", "action": "preview"}
    huge = {**GOOD, "body_text": "{{ 9 ** 9 ** 9 }}", "action": "preview"}

    response = admin_client.post(f"{URL}/closed/en", data=unknown)
    crashing = admin_client.post(f"{URL}/closed/en", data=dividing)
    endless = admin_client.post(f"{URL}/closed/en", data=huge)  # refused, not computed

    assert response.status_code == 400
    assert "invoice" in page(response)
    assert crashing.status_code == 400
    assert "ZeroDivisionError" in page(crashing)
    assert endless.status_code == 400
    assert "operator is not available" in page(endless)
    assert db.session.execute(select(MailTemplate)).first() is None


def test_save_then_reset_changes_the_next_mail_and_is_audited(admin_client, admin):
    saved = admin_client.post(f"{URL}/acknowledge/ru", data={**GOOD, "action": "save"})
    assert saved.status_code == 302
    shown = page(admin_client.get(saved.headers["Location"]))
    assert "is saved" in shown and "uses your own wording" in shown
    mail = render_mail("acknowledge", "ru", _context())
    assert mail.subject == "Wir haben #7"
    assert render_mail("acknowledge", "en", _context()).subject != "Wir haben #7"

    reset = admin_client.post(f"{URL}/acknowledge/ru/reset")

    assert reset.status_code == 302
    assert db.session.execute(select(MailTemplate)).first() is None
    assert render_mail("acknowledge", "ru", _context()).subject != "Wir haben #7"
    assert _audits() == [
        ("mail_template.changed", "acknowledge ru: default", "acknowledge ru: custom"),
        ("mail_template.reset", "acknowledge ru: custom", "acknowledge ru: default"),
    ]
    [event] = [
        e
        for e in db.session.execute(select(AuditEvent)).scalars()
        if e.action == "mail_template.reset"
    ]
    assert event.actor_user_id == admin.id


def test_unknown_kinds_and_languages_are_not_found(admin_client):
    assert admin_client.get(f"{URL}/invoice/en").status_code == 404
    assert admin_client.get(f"{URL}/reply/de").status_code == 404


def _context() -> dict:
    from helpdesk.mail.templates_store import sample_context

    context = sample_context()
    context["ticket"]["reference"] = "#7"
    return context
