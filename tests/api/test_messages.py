"""Messages and attachments through the API: replies, notes, uploads and downloads."""

import io

import pytest

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.tickets.models import Ticket
from tests.api.conftest import assert_error


def _kinds(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["kind"] for item in response.get_json()["items"]]


def test_customers_see_replies_and_agents_also_see_notes(api, make):
    customer, agent = make.customer(), make.agent()
    ticket = make.ticket(requester=customer, body="My screen is black.")
    services.add_note(ticket, Actor.for_user(agent), body="Probably the cable.")
    services.add_reply(
        ticket, Actor.for_user(agent), body="Please check the cable.", channel="agent"
    )
    db.session.commit()

    assert _kinds(api(customer).get(f"/tickets/{ticket.number}/messages")) == ["reply", "reply"]
    assert _kinds(api(agent).get(f"/tickets/{ticket.number}/messages")) == [
        "reply",
        "note",
        "reply",
    ]


def test_customer_replies_but_cannot_write_notes(api, make):
    customer, agent = make.customer(), make.agent()
    ticket = make.ticket(requester=customer)
    services.change_status(ticket, Actor.for_user(agent), "pending")
    db.session.commit()
    client = api(customer)

    note = client.post(f"/tickets/{ticket.number}/messages", json={"body": "x", "kind": "note"})
    assert_error(note, 403, "forbidden")

    reply = client.post(f"/tickets/{ticket.number}/messages", json={"body": "Here is the info."})
    assert reply.status_code == 201
    message = reply.get_json()
    assert message["kind"] == "reply" and message["body_text"] == "Here is the info."
    assert message["author"]["type"] == "contact"
    # A customer's answer to a pending ticket puts it back in the agents' court.
    assert client.get(f"/tickets/{ticket.number}").get_json()["status"] == "open"


def test_agent_adds_an_internal_note_the_customer_never_sees(api, make):
    customer, agent = make.customer(), make.agent()
    ticket = make.ticket(requester=customer)
    db.session.commit()

    note = api(agent).post(
        f"/tickets/{ticket.number}/messages", json={"body": "VIP, call back.", "kind": "note"}
    )

    assert note.status_code == 201 and note.get_json()["kind"] == "note"
    bodies = [
        m["body_text"]
        for m in api(customer).get(f"/tickets/{ticket.number}/messages").get_json()["items"]
    ]
    assert "VIP, call back." not in bodies


def test_reply_with_attachments_and_download_by_whoever_may_see_it(api, make):
    customer, stranger, agent = make.customer(), make.customer(), make.agent()
    ticket = make.ticket(requester=customer)
    db.session.commit()
    data = {
        "body": "Screenshot attached.",
        "attachments": [
            (io.BytesIO(b"\x89PNG fake image"), "screen.png", "image/png"),
            (io.BytesIO(b"log line\n"), "../../etc/app.log", "text/plain"),
        ],
    }

    response = api(customer).post(
        f"/tickets/{ticket.number}/messages", data=data, content_type="multipart/form-data"
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    files = response.get_json()["attachments"]
    assert [(f["filename"], f["size"]) for f in files] == [("screen.png", 15), ("app.log", 9)]
    url = files[0]["url"].removeprefix("/api/v1")
    download = api(agent).get(url)
    assert download.status_code == 200 and download.data == b"\x89PNG fake image"
    assert download.mimetype == "image/png"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert api(customer).get(url).data == b"\x89PNG fake image"
    assert_error(api(stranger).get(url), 404)
    assert_error(api(agent).get(f"/tickets/{ticket.number}/attachments/999999"), 404)


def test_files_on_an_internal_note_stay_hidden_from_the_customer(api, make):
    customer, agent = make.customer(), make.agent()
    ticket = make.ticket(requester=customer)
    db.session.commit()
    note = api(agent).post(
        f"/tickets/{ticket.number}/messages",
        data={"body": "Internal", "kind": "note", "attachments": (io.BytesIO(b"secret"), "a.txt")},
        content_type="multipart/form-data",
    )
    url = note.get_json()["attachments"][0]["url"].removeprefix("/api/v1")

    assert api(agent).get(url).data == b"secret"
    assert_error(api(customer).get(url), 404)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "HELPDESK_MAX_ATTACHMENT_MB": 1}


def test_an_oversized_file_is_refused_with_413(api, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    db.session.commit()
    big = io.BytesIO(b"x" * (1024 * 1024 + 1))

    response = api(customer).post(
        f"/tickets/{ticket.number}/messages",
        data={"body": "Big file", "attachments": (big, "big.bin")},
        content_type="multipart/form-data",
    )

    error = assert_error(response, 413, "payload_too_large")
    assert "attachments" in error["fields"]
    assert len(db.session.get(Ticket, ticket.id).messages) == 1


def test_a_new_ticket_can_carry_files_too(api, make):
    customer = make.customer()
    db.session.commit()

    response = api(customer).post(
        "/tickets",
        data={"subject": "Form", "body": "See file", "attachments": (io.BytesIO(b"pdf"), "f.pdf")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 201
    number = response.get_json()["number"]
    first = api(customer).get(f"/tickets/{number}/messages").get_json()["items"][0]
    assert [a["filename"] for a in first["attachments"]] == ["f.pdf"]


def test_message_pages_follow_the_cursor(api, make):
    agent = make.agent()
    ticket = make.ticket()
    for i in range(4):
        services.add_note(ticket, Actor.for_user(agent), body=f"Note {i}")
    db.session.commit()
    client = api(agent)

    first = client.get(f"/tickets/{ticket.number}/messages?limit=3").get_json()
    rest = client.get(
        f"/tickets/{ticket.number}/messages", query_string={"cursor": first["next_cursor"]}
    ).get_json()

    texts = [m["body_text"] for m in first["items"] + rest["items"]]
    assert texts == ["It jams.", "Note 0", "Note 1", "Note 2", "Note 3"]
    assert rest["next_cursor"] is None
