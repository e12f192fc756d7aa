"""Attachment downloads: only for people who may see the ticket, only from public replies,
with headers a browser cannot be tricked by."""

from helpdesk.accounts.actor import Actor
from helpdesk.tickets.models import Channel
from helpdesk.tickets.services import add_note, add_reply
from helpdesk.validation import Upload
from tests.portal.conftest import page

SECRET = Upload("secret.txt", "text/plain", b"TOP-SECRET-BYTES")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def _ticket_with(make, requester, *uploads):
    return make.ticket(requester=requester, uploads=list(uploads))


def _url(ticket, attachment):
    return f"/tickets/{ticket.number}/attachments/{attachment.id}/{attachment.filename}"


def test_a_file_is_downloaded_as_an_attachment_with_nosniff(client, signed_in, make):
    customer = make.customer()
    ticket = _ticket_with(make, customer, Upload("report.pdf", "application/pdf", b"%PDF-1.4"))
    [attachment] = ticket.messages[0].attachments
    signed_in(customer)
    response = client.get(_url(ticket, attachment))
    assert response.status_code == 200
    assert response.data == b"%PDF-1.4"
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "report.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_html_is_never_served_as_html(client, signed_in, make):
    customer = make.customer()
    evil = Upload("page.html", "text/html", b"<script>alert(document.cookie)</script>")
    ticket = _ticket_with(make, customer, evil)
    [attachment] = ticket.messages[0].attachments
    signed_in(customer)
    response = client.get(_url(ticket, attachment))
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_svg_is_downloaded_not_shown(client, signed_in, make):
    customer = make.customer()
    svg = Upload("logo.svg", "image/svg+xml", b"<svg onload='alert(1)'/>")
    ticket = _ticket_with(make, customer, svg)
    [attachment] = ticket.messages[0].attachments
    signed_in(customer)
    response = client.get(_url(ticket, attachment))
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_a_raster_image_is_shown_inline(client, signed_in, make):
    customer = make.customer()
    ticket = _ticket_with(make, customer, Upload("shot.png", "image/png", PNG))
    [attachment] = ticket.messages[0].attachments
    signed_in(customer)
    response = client.get(_url(ticket, attachment))
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_links_each_file_of_the_conversation(client, signed_in, make):
    customer = make.customer()
    ticket = _ticket_with(make, customer, Upload("a <b>.txt", "text/plain", b"x"))
    [attachment] = ticket.messages[0].attachments
    signed_in(customer)
    html = page(client.get(f"/tickets/{ticket.number}"))
    assert "a &lt;b&gt;.txt" in html and "<b>.txt" not in html
    assert f"/tickets/{ticket.number}/attachments/{attachment.id}/" in html


def test_another_customers_file_is_not_found(client, signed_in, make):
    theirs = _ticket_with(make, make.customer(), SECRET)
    [attachment] = theirs.messages[0].attachments
    signed_in()
    response = client.get(_url(theirs, attachment))
    assert response.status_code == 404
    assert b"TOP-SECRET-BYTES" not in response.data


def test_a_file_of_another_ticket_under_my_number_is_not_found(client, signed_in, make):
    customer = make.customer()
    mine = make.ticket(requester=customer)
    theirs = _ticket_with(make, make.customer(), SECRET)
    [attachment] = theirs.messages[0].attachments
    signed_in(customer)
    response = client.get(_url(mine, attachment))
    assert response.status_code == 404
    assert b"TOP-SECRET-BYTES" not in response.data


def test_a_file_attached_to_an_internal_note_is_not_found(client, signed_in, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    note = add_note(
        ticket,
        Actor.for_user(make.agent()),
        body="internal",
        uploads=[Upload("internal.txt", "text/plain", b"internal only")],
    )
    [attachment] = note.attachments
    signed_in(customer)
    response = client.get(_url(ticket, attachment))
    assert response.status_code == 404
    assert "internal.txt" not in page(client.get(f"/tickets/{ticket.number}"))


def test_an_agents_public_file_is_downloadable(client, signed_in, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    reply = add_reply(
        ticket,
        Actor.for_user(make.agent()),
        body="Here is the manual",
        channel=Channel.AGENT,
        uploads=[Upload("manual.txt", "text/plain", b"read me")],
    )
    [attachment] = reply.attachments
    signed_in(customer)
    response = client.get(_url(ticket, attachment))
    assert response.status_code == 200 and response.data == b"read me"


def test_signed_out_visitors_cannot_download(client, make):
    customer = make.customer()
    ticket = _ticket_with(make, customer, Upload("a.txt", "text/plain", b"x"))
    [attachment] = ticket.messages[0].attachments
    response = client.get(_url(ticket, attachment))
    assert response.status_code == 302 and "/login" in response.headers["Location"]
