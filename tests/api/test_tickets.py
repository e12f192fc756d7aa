"""Tickets through the API: who sees what, filters, pagination, changes and merges."""

from datetime import timedelta

from sqlalchemy import select, update

from helpdesk.accounts.actor import Actor
from helpdesk.contacts.services import find_contact_by_email
from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel, Ticket
from helpdesk.timeutil import utcnow
from tests.api.conftest import assert_error

SYSTEM = Actor.system()


def _numbers(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["number"] for item in response.get_json()["items"]]


def test_customer_token_lists_only_the_customers_own_tickets(api, make):
    alice, bob = make.customer(), make.customer()
    mine = make.ticket(requester=alice, subject="Alice's printer")
    make.ticket(requester=bob, subject="Bob's printer")
    db.session.commit()

    assert _numbers(api(alice).get("/tickets")) == [mine.number]


def test_another_customers_ticket_is_not_found_everywhere(api, make):
    alice, bob = make.customer(), make.customer()
    theirs = make.ticket(requester=bob)
    db.session.commit()
    client = api(alice)
    n = theirs.number

    for response in (
        client.get(f"/tickets/{n}"),
        client.patch(f"/tickets/{n}", json={"status": "resolved"}),
        client.get(f"/tickets/{n}/messages"),
        client.post(f"/tickets/{n}/messages", json={"body": "Me too"}),
        client.get(f"/tickets/{n}/attachments/1"),
    ):
        assert_error(response, 404, "not_found")
    assert db.session.get(Ticket, theirs.id).status == "new"


def test_agent_sees_own_teams_and_unrouted_tickets_admin_sees_all(api, make):
    first, second = make.team("First line"), make.team("Second line")
    agent = make.agent(teams=[first])
    admin = make.admin()
    ours = make.ticket(team=first)
    unrouted = make.ticket()
    elsewhere = make.ticket(team=second)
    db.session.commit()

    assert set(_numbers(api(agent).get("/tickets"))) == {ours.number, unrouted.number}
    assert_error(api(agent).get(f"/tickets/{elsewhere.number}"), 404)
    everything = {ours.number, unrouted.number, elsewhere.number}
    assert set(_numbers(api(admin).get("/tickets"))) == everything


def test_customer_opens_a_request_for_themselves_only(api, make):
    alice = make.customer()
    db.session.commit()
    client = api(alice)

    response = client.post("/tickets", json={"subject": "VPN drops", "body": "Every hour."})
    assert response.status_code == 201
    ticket = response.get_json()
    assert ticket["requester"]["email"] == alice.email
    assert ticket["channel"] == "api" and ticket["status"] == "new"
    assert response.headers["Location"].endswith(f"/api/v1/tickets/{ticket['number']}")
    assert response.headers["ETag"] == f'"v{ticket["version"]}"'

    for_someone_else = {"subject": "x", "body": "y", "requester_email": "other@example.test"}
    assert_error(client.post("/tickets", json=for_someone_else), 403, "forbidden")
    assert_error(client.post("/tickets", json={"subject": "x", "body": "y", "tags": ["a"]}), 403)


def test_agent_opens_a_ticket_on_behalf_of_a_new_requester(api, make):
    team = make.team("Billing")
    agent = make.agent(teams=[team])
    db.session.commit()

    response = api(agent).post(
        "/tickets",
        json={
            "subject": "Invoice is wrong",
            "body": "Customer called about invoice 42.",
            "requester_email": "Caller@Example.test",
            "requester_name": "Carla Caller",
            "priority": "high",
            "team": "Billing",
            "assignee": "me",
            "tags": ["invoice", "phone"],
        },
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    ticket = response.get_json()
    contact = find_contact_by_email("caller@example.test")
    assert contact is not None and contact.name == "Carla Caller"
    assert ticket["requester"] == {
        "id": contact.id,
        "name": "Carla Caller",
        "email": contact.primary_email,
    }
    assert ticket["priority"] == "high" and ticket["team"]["id"] == team.id
    assert ticket["assignee"]["id"] == agent.id and ticket["tags"] == ["invoice", "phone"]
    first = api(agent).get(f"/tickets/{ticket['number']}/messages").get_json()["items"][0]
    assert first["author"] == {"type": "contact", "id": contact.id, "name": "Carla Caller"}


def test_agent_must_say_who_the_ticket_is_for(api, make):
    agent = make.agent()
    db.session.commit()

    error = assert_error(api(agent).post("/tickets", json={"subject": "s", "body": "b"}), 422)
    assert "requester_email" in error["fields"]


def test_assignee_filter_takes_me_none_an_address_or_an_id(api, make):
    me, other = make.agent(), make.agent()
    mine, theirs, nobodys = make.ticket(), make.ticket(), make.ticket()
    services.assign(mine, SYSTEM, assignee=me)
    services.assign(theirs, SYSTEM, assignee=other)
    db.session.commit()
    client = api(me)

    assert _numbers(client.get("/tickets?assignee=me")) == [mine.number]
    assert _numbers(client.get("/tickets?assignee=none")) == [nobodys.number]
    assert _numbers(client.get(f"/tickets?assignee={other.email.upper()}")) == [theirs.number]
    assert _numbers(client.get(f"/tickets?assignee={other.id}")) == [theirs.number]
    assert _numbers(client.get("/tickets?assignee=nobody@example.test")) == []
    assert "assignee" in assert_error(client.get("/tickets?assignee=bogus"), 422)["fields"]


def test_filters_by_status_priority_team_requester_organization_and_tag(api, make):
    agent = make.agent(all_teams=True)
    team = make.team()
    org = make.organization("Acme", domains=["acme.test"])
    acme_user = make.customer(email="ann@acme.test")
    a = make.ticket(requester=acme_user, team=team)
    b = make.ticket()
    c = make.ticket()
    services.change_priority(b, SYSTEM, "urgent")
    services.change_status(c, Actor.for_user(agent), "open")
    services.tag(a, SYSTEM, add=["vip", "printer"])
    services.tag(b, SYSTEM, add=["printer"])
    db.session.commit()
    client = api(agent)

    assert _numbers(client.get("/tickets?status=open")) == [c.number]
    assert set(_numbers(client.get("/tickets?status=open&status=new"))) == {
        a.number,
        b.number,
        c.number,
    }
    assert _numbers(client.get("/tickets?priority=urgent")) == [b.number]
    assert _numbers(client.get(f"/tickets?team={team.id}")) == [a.number]
    assert _numbers(client.get(f"/tickets?team={team.name}")) == [a.number]
    assert set(_numbers(client.get("/tickets?team=none"))) == {b.number, c.number}
    assert _numbers(client.get("/tickets?requester=ann@acme.test")) == [a.number]
    assert _numbers(client.get(f"/tickets?requester={acme_user.contact.id}")) == [a.number]
    assert _numbers(client.get(f"/tickets?organization={org.id}")) == [a.number]
    assert set(_numbers(client.get("/tickets?tag=printer"))) == {a.number, b.number}
    assert _numbers(client.get("/tickets?tag=printer&tag=vip")) == [a.number]
    assert "status.0" in assert_error(client.get("/tickets?status=bogus"), 422)["fields"]


def test_updated_since_and_text_search(api, make):
    agent = make.agent()
    old = make.ticket(subject="Old laptop", body="The battery is dead.")
    new = make.ticket(subject="New phone", body="Screen flickers 50% of the time.")
    db.session.execute(
        update(Ticket).where(Ticket.id == old.id).values(updated_at=utcnow() - timedelta(days=3))
    )
    db.session.commit()
    client = api(agent)
    since = (utcnow() - timedelta(days=1)).isoformat() + "Z"

    assert _numbers(client.get("/tickets", query_string={"updated_since": since})) == [new.number]
    assert _numbers(client.get("/tickets?q=battery")) == [old.number]
    assert _numbers(client.get("/tickets?q=PHONE")) == [new.number]
    assert _numbers(client.get("/tickets", query_string={"q": "50%"})) == [new.number]
    assert _numbers(client.get("/tickets?q=phone+battery")) == []


def test_text_search_finds_notes_for_agents_but_never_for_customers(api, make):
    customer, agent = make.customer(), make.agent()
    ticket = make.ticket(requester=customer, subject="Login fails", body="Cannot sign in.")
    services.add_note(ticket, Actor.for_user(agent), body="Suspected fraud, be careful.")
    db.session.commit()

    assert _numbers(api(agent).get("/tickets?q=fraud")) == [ticket.number]
    assert _numbers(api(customer).get("/tickets?q=fraud")) == []


def test_cursor_pagination_visits_every_ticket_once_newest_first(api, make):
    agent = make.agent()
    tickets = [make.ticket(subject=f"Ticket {i}") for i in range(8)]
    # Ties on updated_at must still give a stable order (by id).
    same_moment = utcnow() - timedelta(hours=1)
    db.session.execute(
        update(Ticket)
        .where(Ticket.id.in_([t.id for t in tickets[2:6]]))
        .values(updated_at=same_moment)
    )
    db.session.commit()
    client = api(agent)
    expected = [
        number
        for _, _, number in sorted(
            ((t.updated_at, t.id, t.number) for t in db.session.execute(select(Ticket)).scalars()),
            reverse=True,
        )
    ]

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get("/tickets", query_string=query).get_json()
        seen += [item["number"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 10

    assert pages == 3
    assert seen == expected
    assert "cursor" in assert_error(client.get("/tickets?cursor=not-a-cursor"), 422)["fields"]
    assert "limit" in assert_error(client.get("/tickets?limit=101"), 422)["fields"]


def test_patch_changes_status_priority_assignee_team_and_tags(api, make):
    team = make.team("Hardware")
    agent = make.agent(teams=[team])
    other = make.agent(teams=[team])
    ticket = make.ticket(team=team)
    db.session.commit()
    client = api(agent)
    etag = client.get(f"/tickets/{ticket.number}").headers["ETag"]

    response = client.patch(
        f"/tickets/{ticket.number}",
        json={
            "status": "pending",
            "priority": "high",
            "assignee": other.email,
            "tags": ["Screen", "warranty"],
        },
        headers={"If-Match": etag},
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "pending" and body["priority"] == "high"
    assert body["assignee"]["id"] == other.id and body["tags"] == ["screen", "warranty"]
    assert response.headers["ETag"] != etag
    assert response.headers["ETag"] == f'"v{body["version"]}"'

    cleared = client.patch(f"/tickets/{ticket.number}", json={"assignee": None, "team": None})
    assert cleared.get_json()["assignee"] is None and cleared.get_json()["team"] is None
    assert client.patch(f"/tickets/{ticket.number}", json={"tags": []}).get_json()["tags"] == []


def test_patch_keeps_the_status_rules_and_agent_only_fields(api, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    db.session.commit()
    client = api(customer)

    assert_error(client.patch(f"/tickets/{ticket.number}", json={"status": "closed"}), 409)
    assert_error(client.patch(f"/tickets/{ticket.number}", json={"priority": "urgent"}), 403)
    assert_error(client.patch(f"/tickets/{ticket.number}", json={"colour": "red"}), 422)
    resolved = client.patch(f"/tickets/{ticket.number}", json={"status": "resolved"})
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"


def test_stale_if_match_is_refused_with_412_and_changes_nothing(api, make):
    agent = make.agent()
    ticket = make.ticket()
    db.session.commit()
    client = api(agent)
    stale = client.get(f"/tickets/{ticket.number}").headers["ETag"]
    assert client.patch(f"/tickets/{ticket.number}", json={"priority": "low"}).status_code == 200

    response = client.patch(
        f"/tickets/{ticket.number}", json={"priority": "urgent"}, headers={"If-Match": stale}
    )

    assert_error(response, 412, "precondition_failed")
    assert client.get(f"/tickets/{ticket.number}").get_json()["priority"] == "low"


def test_a_change_made_between_read_and_write_answers_409(api, make):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    agent = make.agent()
    ticket = make.ticket()
    db.session.commit()
    client = api(agent)

    done = []

    def someone_else_writes_first(session, context, instances):
        # Just before this request writes its change to the ticket.
        if done or not any(isinstance(obj, Ticket) for obj in session.dirty):
            return
        done.append(True)
        with db.engine.begin() as other:
            other.execute(
                update(Ticket).where(Ticket.id == ticket.id).values(version=Ticket.version + 1)
            )

    event.listen(Session, "before_flush", someone_else_writes_first)
    try:
        response = client.patch(f"/tickets/{ticket.number}", json={"priority": "urgent"})
    finally:
        event.remove(Session, "before_flush", someone_else_writes_first)

    assert_error(response, 409, "conflict")
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).priority == "normal"


def test_agent_merges_a_ticket_into_another(api, make):
    agent, customer = make.agent(), make.customer()
    source = make.ticket(requester=customer, subject="Duplicate")
    target = make.ticket(requester=customer, subject="Original")
    db.session.commit()

    response = api(agent).post(f"/tickets/{source.number}/merge", json={"into": target.number})

    assert response.status_code == 200
    assert response.get_json()["number"] == target.number
    merged = api(agent).get(f"/tickets/{source.number}").get_json()
    assert merged["merged_into"] == target.number and merged["status"] == "closed"
    other = make.ticket(requester=customer)
    db.session.commit()
    refused = api(customer).post(f"/tickets/{other.number}/merge", json={"into": target.number})
    assert_error(refused, 403)


def test_ticket_created_via_the_api_is_marked_as_api_channel(api, make):
    customer = make.customer()
    db.session.commit()

    number = api(customer).post("/tickets", json={"subject": "s", "body": "b"}).get_json()["number"]

    ticket = db.session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
    assert ticket.channel == Channel.API
