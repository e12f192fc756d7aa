"""My requests (/tickets): what is listed, the open/closed filter, organizations, paging."""

import re

from helpdesk.accounts.actor import Actor
from helpdesk.tickets.services import assign, change_status
from helpdesk.tickets.states import Status
from tests.portal.conftest import page


def _numbers(html: str) -> list[int]:
    found = [int(n) for n in re.findall(r'href="/tickets/(\d+)"', html)]
    return list(dict.fromkeys(found))


def test_the_list_shows_status_assignee_and_last_update(client, signed_in, make):
    customer = make.customer()
    agent = make.agent(name="Dana Agent")
    ticket = make.ticket(requester=customer, subject="VPN drops")
    assign(ticket, Actor.for_user(agent), assignee=agent)
    signed_in(customer)
    html = page(client.get("/tickets"))
    assert f"#{ticket.number}" in html and "VPN drops" in html
    assert "Dana Agent" in html
    assert "In progress" in html  # assigning opened it
    assert f'datetime="{ticket.updated_at.isoformat()}Z"' in html


def test_another_customers_requests_are_not_listed(client, signed_in, make):
    mine = make.ticket(requester=make.customer(), subject="Mine")
    other = make.ticket(subject="Somebody else's")
    signed_in(mine.requester.user)
    html = page(client.get("/tickets"))
    assert "Mine" in html and "Somebody else" not in html
    assert f"/tickets/{other.number}" not in html


def test_the_filter_separates_open_from_solved_and_closed(client, signed_in, make):
    customer = make.customer()
    agent = make.agent()
    open_one = make.ticket(requester=customer, subject="Still open")
    done = make.ticket(requester=customer, subject="Already done")
    change_status(done, Actor.for_user(agent), Status.RESOLVED)
    change_status(done, Actor.for_user(agent), Status.CLOSED)
    signed_in(customer)
    everything = page(client.get("/tickets"))
    assert "Still open" in everything and "Already done" in everything  # closed stay visible
    open_only = page(client.get("/tickets?state=open"))
    assert "Still open" in open_only and "Already done" not in open_only
    closed_only = page(client.get("/tickets?state=closed"))
    assert "Already done" in closed_only and "Still open" not in closed_only
    assert _numbers(closed_only) == [done.number] and open_one.number not in _numbers(closed_only)


def test_an_organization_manager_also_sees_colleagues_requests(client, signed_in, make):
    make.organization("Acme", ["acme.test"])
    manager = make.customer(email="boss@acme.test", org_manager=True)
    colleague = make.customer(email="bob@acme.test", name="Bob Builder")
    outsider = make.customer(email="eve@other.test")
    theirs = make.ticket(requester=colleague, subject="Bob's laptop")
    make.ticket(requester=outsider, subject="Eve's secret")
    signed_in(manager)
    html = page(client.get("/tickets"))
    assert "Bob&#39;s laptop" in html and "Requested by Bob Builder" in html
    assert "Eve" not in html
    assert page(client.get(f"/tickets/{theirs.number}")).count("Bob&#39;s laptop") >= 1


def test_a_colleague_who_is_not_a_manager_sees_only_their_own(client, signed_in, make):
    make.organization("Acme", ["acme.test"])
    colleague = make.customer(email="bob@acme.test")
    other = make.customer(email="ann@acme.test")
    make.ticket(requester=other, subject="Ann's request")
    signed_in(colleague)
    assert "Ann" not in page(client.get("/tickets"))


def test_pages_follow_each_other_without_gaps_or_repeats(client, signed_in, make):
    customer = make.customer()
    created = [make.ticket(requester=customer, subject=f"Request {i}").number for i in range(30)]
    signed_in(customer)
    first = page(client.get("/tickets"))
    first_numbers = _numbers(first)
    assert len(first_numbers) == 25
    [next_link] = re.findall(r'<a href="(/tickets\?[^"]*after=[^"]+)">Older', first)
    second = page(client.get(next_link.replace("&amp;", "&")))
    second_numbers = _numbers(second)
    assert len(second_numbers) == 5
    assert sorted(first_numbers + second_numbers) == sorted(created)
    assert "Older requests" not in second  # the last page links nowhere


def test_a_mangled_cursor_shows_the_first_page(client, signed_in, make):
    customer = make.customer()
    make.ticket(requester=customer, subject="Only one")
    signed_in(customer)
    assert "Only one" in page(client.get("/tickets?after=not-a-cursor"))


def test_a_new_customer_is_invited_to_ask_something(client, signed_in):
    signed_in()
    html = page(client.get("/tickets"))
    assert "You have no requests yet." in html and 'href="/tickets/new"' in html
