"""Submitting a request: /tickets/new and its confirmation page."""

import io
import re

from sqlalchemy import func, select

from helpdesk import storage
from helpdesk.extensions import db
from helpdesk.settings import set_setting
from helpdesk.tickets.models import Attachment, Message, Priority, Ticket
from helpdesk.validation import ATTACHMENTS_PER_MESSAGE_MAX, BODY_MAX, SUBJECT_MAX
from tests.portal.conftest import deliver, link_path, mails_to, page, text_of


def _files(*specs):
    return [(io.BytesIO(data), name, kind) for name, data, kind in specs]


def _post(client, **fields):
    data = {"subject": "Printer jams", "body": "It **jams** on page 2.", **fields}
    return client.post("/tickets/new", data=data, content_type="multipart/form-data")


def _ticket_count() -> int:
    return db.session.execute(select(func.count()).select_from(Ticket)).scalar_one()


def test_new_request_page_shows_the_form_with_the_file_limits(client, signed_in):
    signed_in()
    html = page(client.get("/tickets/new"))
    assert 'name="subject"' in html and 'name="body"' in html
    assert 'type="file"' in html and "multiple" in html
    assert f"Up to {ATTACHMENTS_PER_MESSAGE_MAX} files, at most 20 MB each." in html
    assert 'name="priority"' not in html  # customers do not set it unless the business allows


def test_submitting_shows_the_number_and_the_time_it_was_accepted(client, signed_in):
    customer = signed_in()
    response = _post(client)
    assert response.status_code == 302
    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert response.headers["Location"] == f"/tickets/{ticket.number}/received"
    assert ticket.requester_id == customer.contact_id
    html = page(client.get(response.headers["Location"]))
    assert f"#{ticket.number}" in html
    assert "Accepted on" in html and str(ticket.created_at.year) in html


def test_the_description_is_markdown_rendered_and_sanitized(client, signed_in):
    signed_in()
    _post(client, body="Hello **there**\n\n<script>alert(1)</script>")
    message = db.session.execute(select(Message)).scalar_one()
    assert message.body_text.startswith("Hello **there**")  # the source is kept
    assert "<strong>there</strong>" in message.body_html
    assert "<script>" not in message.body_html
    html = page(client.get(f"/tickets/{message.ticket.number}"))
    assert "<strong>there</strong>" in html and "<script>alert(1)" not in html


def test_the_acknowledgement_mail_carries_a_signed_link_to_the_ticket(client, signed_in, smtp):
    customer = signed_in()
    _post(client)
    deliver()
    [mail] = mails_to(smtp, customer.email)
    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert f"#{ticket.number}" in mail["Subject"]
    path = link_path(mail, "/t/")
    client.post("/logout")
    assert f"#{ticket.number}" in page(client.get(path))
    assert "Printer jams" in text_of(mail) or "Printer jams" in mail["Subject"]


def test_an_empty_subject_keeps_the_input_and_says_what_is_missing(client, signed_in):
    signed_in()
    response = _post(client, subject="   ", body="Kept description")
    assert response.status_code == 400
    html = page(response)
    assert "Please give a subject." in html
    assert "Kept description" in html
    [subject_input] = re.findall(r'<input[^>]*id="subject"[^>]*>', html)
    assert 'aria-invalid="true"' in subject_input
    assert _ticket_count() == 0


def test_an_empty_description_is_refused(client, signed_in):
    signed_in()
    response = _post(client, subject="Kept subject", body="")
    assert response.status_code == 400
    assert "Please write a message." in page(response) and 'value="Kept subject"' in page(response)
    assert _ticket_count() == 0


def test_an_over_long_subject_is_refused_with_the_limit(client, signed_in):
    signed_in()
    response = _post(client, subject="x" * (SUBJECT_MAX + 1))
    assert response.status_code == 400
    assert f"at most {SUBJECT_MAX}" in page(response)
    assert _ticket_count() == 0


def test_an_over_long_description_is_refused_and_kept(client, signed_in):
    signed_in()
    body = "y" * (BODY_MAX + 1)
    response = _post(client, body=body)
    assert response.status_code == 400
    assert "The message is too long" in page(response)
    assert body in page(response)
    assert _ticket_count() == 0


def test_several_attachments_are_stored_under_their_hash(client, signed_in):
    signed_in()
    files = _files(("a.txt", b"first", "text/plain"), ("b.png", b"\x89PNG second", "image/png"))
    _post(client, attachments=files)
    rows = db.session.execute(select(Attachment).order_by(Attachment.id)).scalars().all()
    assert [(a.filename, a.size) for a in rows] == [("a.txt", 5), ("b.png", 11)]
    assert storage.read_blob(rows[0].sha256) == b"first"


def test_too_many_files_are_refused_and_nothing_is_saved(client, signed_in):
    signed_in()
    count = ATTACHMENTS_PER_MESSAGE_MAX + 1
    files = _files(*[(f"f{i}.txt", b"x", "text/plain") for i in range(count)])
    response = _post(client, subject="Many files", attachments=files)
    assert response.status_code == 400
    html = page(response)
    assert f"Too many files ({count}; at most {ATTACHMENTS_PER_MESSAGE_MAX})." in html
    assert "Please choose the files again." in html and 'value="Many files"' in html
    assert _ticket_count() == 0
    assert db.session.execute(select(func.count()).select_from(Attachment)).scalar_one() == 0


def test_a_too_large_file_is_refused_with_its_name(app, client, signed_in):
    app.config["HELPDESK_MAX_ATTACHMENT_MB"] = 1
    signed_in()
    files = _files(("big.bin", b"\0" * (1024 * 1024 + 1), "application/octet-stream"))
    response = _post(client, attachments=files)
    assert response.status_code == 400
    assert "“big.bin” is too large" in page(response)
    assert "at most 1 MB" in page(response)
    assert _ticket_count() == 0


def test_a_request_larger_than_the_upload_limit_gets_a_clear_page(app, client, signed_in):
    signed_in()
    app.config["MAX_CONTENT_LENGTH"] = 1024
    files = _files(("big.bin", b"\0" * 4096, "application/octet-stream"))
    response = _post(client, attachments=files)
    assert response.status_code == 413
    assert "too large together" in page(response)
    assert _ticket_count() == 0


def test_a_category_routes_the_request_to_its_team(client, signed_in, make):
    billing = make.team("Billing")
    set_setting(
        "categories", [{"name": "Invoices", "team": "Billing"}, {"name": "Other", "team": None}]
    )
    signed_in()
    html = page(client.get("/tickets/new"))
    assert '<option value="Invoices">Invoices</option>' in html
    _post(client, category="Invoices")
    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert ticket.team_id == billing.id


def test_when_categories_exist_one_must_be_chosen(client, signed_in):
    set_setting("categories", [{"name": "Invoices", "team": None}])
    signed_in()
    response = _post(client, category="")
    assert response.status_code == 400
    assert "Please choose a category." in page(response)
    assert _ticket_count() == 0


def test_customers_set_the_priority_only_where_the_business_allows_it(app, client, signed_in):
    signed_in()
    _post(client, subject="Not allowed", priority="urgent")
    first = db.session.execute(select(Ticket)).scalar_one()
    assert first.priority == Priority.NORMAL  # ignored: the field is not even offered
    app.config["HELPDESK_CUSTOMER_PRIORITY"] = True
    assert 'name="priority"' in page(client.get("/tickets/new"))
    _post(client, subject="Allowed", priority="urgent")
    second = db.session.execute(select(Ticket).where(Ticket.subject == "Allowed")).scalar_one()
    assert second.priority == Priority.URGENT


def test_agents_are_sent_to_their_console_instead(client, make):
    agent = make.agent()
    db.session.commit()
    from tests.conftest import login

    login(client, agent.email)
    response = client.get("/tickets/new")
    assert response.status_code == 302 and response.headers["Location"].startswith("/agent/")


def test_signed_out_visitors_are_asked_to_sign_in(client):
    response = client.get("/tickets/new")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
