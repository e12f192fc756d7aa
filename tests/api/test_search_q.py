"""The ticket list's `q`: the console's full-text engine, within what the token's user may see."""

from sqlalchemy import update

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel, Ticket
from helpdesk.tickets.search import search_ticket_ids
from helpdesk.timeutil import utcnow
from tests.api.conftest import assert_error


def _numbers(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["number"] for item in response.get_json()["items"]]


def _list(client, **query) -> list[int]:
    return _numbers(client.get("/tickets", query_string=query))


def test_q_finds_words_of_a_public_reply_with_the_consoles_stemming(api, make):
    agent, customer = make.agent(), make.customer()
    ticket = make.ticket(requester=customer, subject="Invoice question", body="Hello.")
    services.add_reply(
        ticket, Actor.for_user(agent), body="The printers were replaced.", channel=Channel.PORTAL
    )
    make.ticket(subject="Something else", body="Nothing to see.")
    db.session.commit()

    assert _list(api(agent), q="printer") == [ticket.number]
    assert _list(api(customer), q="replaced printers") == [ticket.number]
    console = {hit.ticket_id for hit in search_ticket_ids(Actor.for_user(agent), "printer")}
    assert console == {ticket.id}


def test_q_finds_tickets_by_the_requesters_address(api, make):
    agent = make.agent()
    anna = make.customer(email="anna@acme.test", name="Anna Lopes")
    annas = make.ticket(requester=anna, subject="Broken chair", body="It wobbles.")
    make.ticket(subject="Broken desk", body="It wobbles too.")
    db.session.commit()

    assert _list(api(agent), q="anna@acme.test") == [annas.number]
    assert _list(api(agent), q="Lopes") == [annas.number]


def test_words_only_in_an_internal_note_match_for_agents_and_never_for_customers(api, make):
    agent, customer = make.agent(), make.customer()
    ticket = make.ticket(requester=customer, subject="Login fails", body="Cannot sign in.")
    services.add_note(ticket, Actor.for_user(agent), body="Chargeback suspected, escalate.")
    db.session.commit()

    assert _list(api(agent), q="chargeback") == [ticket.number]
    assert _list(api(customer), q="chargeback") == []
    assert _list(api(customer), q="chargeback OR login") == [ticket.number]


def test_q_never_matches_tickets_the_user_cannot_see(api, make):
    alice, bob = make.customer(), make.customer()
    hardware, billing = make.team("Hardware"), make.team("Billing")
    agent = make.agent(teams=[hardware])
    alices = make.ticket(requester=alice, subject="Keyboard sticky", team=hardware)
    bobs = make.ticket(requester=bob, subject="Keyboard missing keys", team=billing)
    db.session.commit()

    assert _list(api(alice), q="keyboard") == [alices.number]
    assert _list(api(bob), q="keyboard") == [bobs.number]
    assert _list(api(agent), q="keyboard") == [alices.number]
    assert set(_list(api(make.admin()), q="keyboard")) == {alices.number, bobs.number}


def test_q_combines_with_the_other_filters(api, make):
    agent = make.agent()
    open_one = make.ticket(subject="Scanner offline", body="Since Monday.")
    pending = make.ticket(subject="Scanner slow", body="Very slow.")
    services.change_status(pending, Actor.for_user(agent), "pending")
    make.ticket(subject="Mouse offline", body="Since Monday.")
    db.session.commit()

    assert _list(api(agent), q="scanner", status="pending") == [pending.number]
    assert _list(api(agent), q="offline scanner") == [open_one.number]


def test_pages_of_q_results_keep_the_lists_order_and_visit_each_ticket_once(api, make):
    agent = make.agent()
    matching = [make.ticket(subject=f"Projector {i}", body="No signal.") for i in range(7)]
    make.ticket(subject="Coffee machine", body="Empty.")
    # The best-ranked match is the oldest: the order must still be "last updated first".
    db.session.execute(
        update(Ticket)
        .where(Ticket.id == matching[0].id)
        .values(subject="Projector projector projector", updated_at=utcnow().replace(year=2020))
    )
    db.session.commit()
    client = api(agent)
    expected = _list(client, q="projector", limit=100)

    seen, cursor = [], None
    for _ in range(10):
        query = {"q": "projector", "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get("/tickets", query_string=query).get_json()
        seen += [item["number"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert sorted(seen) == sorted(t.number for t in matching)
    assert seen == expected
    assert seen[-1] == matching[0].number


def test_a_q_without_words_is_refused_and_an_over_long_one_too(api, make):
    agent = make.agent()
    make.ticket(subject="Anything", body="At all.")
    db.session.commit()
    client = api(agent)

    for q in ("!!! ???", '"" ---', "-anything", "*"):
        error = assert_error(client.get("/tickets", query_string={"q": q}), 422)
        assert "q" in error["fields"], q
    assert "q" in assert_error(client.get("/tickets", query_string={"q": "a" * 201}), 422)["fields"]
    assert _list(client, q="a" * 200) == []
    assert _list(client, q='printer "jams' + " x" * 90) == []
