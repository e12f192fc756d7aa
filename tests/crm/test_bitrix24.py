"""The Bitrix24 adapter against a local server replaying Bitrix24's documented answers,
with the exact requests it must send."""

import json
from datetime import datetime

import pytest
from werkzeug import Response

from helpdesk.crm.bitrix24 import Bitrix24Adapter, parse_webhook
from helpdesk.crm.protocol import CrmAuthError, CrmError, CrmRateLimited
from tests.crm.conftest import SHORT_READ_TIMEOUT, http_settings
from tests.crm.payloads import (
    BITRIX_AUTH,
    BITRIX_COMPANY,
    BITRIX_CONTACT,
    BITRIX_LIMIT,
    BITRIX_NOT_FOUND,
    BITRIX_USER,
    bitrix,
)

SECRET = "s4cr3tw3bh00kk3y"


def rest(method: str) -> str:
    return f"/rest/1/{SECRET}/{method}.json"


@pytest.fixture
def adapter(crm_server, waits) -> Bitrix24Adapter:
    return Bitrix24Adapter(
        crm_server.url_for(f"/rest/1/{SECRET}/"),
        webhook_secret="app-token-1",
        **http_settings(waits),
    )


def expect(server, method: str, body: dict):
    """An ordered expectation: the call, with exactly this JSON body."""
    return server.expect_ordered_request(rest(method), method="POST", json=body)


def test_a_webhook_url_is_split_into_the_portal_and_its_secret():
    assert parse_webhook("https://acme.bitrix24.ru/rest/1/abc123def/") == (
        "https://acme.bitrix24.ru",
        "abc123def",
    )
    with pytest.raises(ValueError, match="incoming webhook URL"):
        parse_webhook("https://acme.bitrix24.ru/crm/")


def test_contacts_are_found_by_address_with_their_owner(adapter, crm_server):
    find = {"entity_type": "CONTACT", "type": "EMAIL", "values": ["anna@acme.test"]}
    expect(crm_server, "crm.duplicate.findbycomm", find).respond_with_json(bitrix({"CONTACT": [5]}))
    expect(crm_server, "crm.contact.get", {"id": "5"}).respond_with_json(bitrix(BITRIX_CONTACT))
    expect(crm_server, "user.get", {"ID": "1"}).respond_with_json(bitrix(BITRIX_USER, total=1))
    [anna] = adapter.find_contacts(email="anna@acme.test")
    crm_server.check_assertions()
    assert anna.external_id == "5" and anna.name == "Anna Petrova"
    assert anna.emails == ("anna@acme.test", "anna.p@mail.ru")
    assert anna.phones == ("+7 495 123-45-67",)
    assert (anna.company_id, anna.owner) == ("3", "Ivan Sidorov")
    assert anna.details == {"position": "Purchasing manager"}
    assert anna.url == crm_server.url_for("/crm/contact/details/5/")
    request = crm_server.log[0][0]
    assert request.headers["Content-Type"] == "application/json"
    assert request.query_string == b""


def test_nothing_found_is_an_empty_list_in_bitrix24s_answer(adapter, crm_server):
    find = {"entity_type": "CONTACT", "type": "PHONE", "values": ["+74951234567"]}
    expect(crm_server, "crm.duplicate.findbycomm", find).respond_with_json(bitrix([]))
    assert adapter.find_contacts(phone="+74951234567") == []


def test_a_company_is_read_with_its_web_domains(adapter, crm_server):
    expect(crm_server, "crm.company.get", {"id": "3"}).respond_with_json(bitrix(BITRIX_COMPANY))
    expect(crm_server, "user.get", {"ID": "1"}).respond_with_json(
        {
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges",
        },
        status=403,
    )
    company = adapter.get_company("3")
    assert (company.name, company.domains, company.owner) == ("Acme LLC", ("acme.test",), "user #1")
    assert company.url == crm_server.url_for("/crm/company/details/3/")


def test_a_missing_record_is_none(adapter, crm_server):
    expect(crm_server, "crm.contact.get", {"id": "404"}).respond_with_json(
        BITRIX_NOT_FOUND, status=400
    )
    assert adapter.get_contact("404") is None


def test_companies_are_found_by_tax_id_through_their_requisites(adapter, crm_server):
    body = {
        "filter": {"RQ_INN": "7707083893", "ENTITY_TYPE_ID": 4},
        "select": ["ENTITY_ID", "RQ_INN"],
    }
    expect(crm_server, "crm.requisite.list", body).respond_with_json(
        bitrix([{"ENTITY_ID": "3", "RQ_INN": "7707083893"}], total=1)
    )
    expect(crm_server, "crm.company.get", {"id": "3"}).respond_with_json(
        bitrix(BITRIX_COMPANY | {"ASSIGNED_BY_ID": "0"})
    )
    [company] = adapter.find_companies(tax_id="7707083893")
    assert (company.external_id, company.tax_id, company.owner) == ("3", "7707083893", None)
    assert adapter.find_companies(domain="acme.test") == []  # no domain search in Bitrix24


def test_a_note_is_a_timeline_comment_on_the_contact(adapter, crm_server):
    body = {"fields": {"ENTITY_ID": 5, "ENTITY_TYPE": "contact", "COMMENT": "Ticket #7\nref hdk1"}}
    expect(crm_server, "crm.timeline.comment.add", body).respond_with_json(bitrix(101))
    note = adapter.add_note("5", "Ticket #7\nref hdk1", key="hdk1", when=datetime(2026, 1, 1))
    assert note.external_id == "101"


def test_a_note_is_looked_for_page_by_page(adapter, crm_server):
    def page(start):
        return {
            "filter": {"ENTITY_ID": 5, "ENTITY_TYPE": "contact"},
            "select": ["ID", "COMMENT"],
            "start": start,
        }

    first = [{"ID": str(i), "COMMENT": f"call {i}"} for i in range(50)]
    expect(crm_server, "crm.timeline.comment.list", page(0)).respond_with_json(
        bitrix(first, next=50, total=52)
    )
    expect(crm_server, "crm.timeline.comment.list", page(50)).respond_with_json(
        bitrix(
            [{"ID": "77", "COMMENT": "Ticket #7\nref hdk1"}, {"ID": "78", "COMMENT": "x"}], total=52
        )
    )
    assert adapter.find_note("5", "hdk1") == "77"
    crm_server.check_assertions()


def test_too_many_requests_waits_a_second_and_tries_again(adapter, crm_server, waits):
    crm_server.expect_ordered_request(rest("crm.contact.get")).respond_with_json(
        BITRIX_LIMIT, status=503
    )
    crm_server.expect_ordered_request(rest("crm.contact.get")).respond_with_json(
        bitrix(BITRIX_CONTACT | {"ASSIGNED_BY_ID": None})
    )
    assert adapter.get_contact("5").name == "Anna Petrova"
    assert waits == [1.0]


def test_a_method_out_of_operating_time_goes_back_to_the_outbox(adapter, crm_server):
    crm_server.expect_request(rest("crm.contact.get")).respond_with_json(
        {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked"}, status=429
    )
    with pytest.raises(CrmRateLimited):
        adapter.get_contact("5")


def test_refused_credentials_raise_an_auth_error_without_the_secret(adapter, crm_server):
    crm_server.expect_request(rest("crm.contact.fields")).respond_with_json(BITRIX_AUTH, status=401)
    with pytest.raises(CrmAuthError) as raised:
        adapter.health_check()
    assert SECRET not in str(raised.value)


def test_an_answer_without_result_is_an_error(adapter, crm_server):
    crm_server.expect_request(rest("crm.contact.get")).respond_with_data(
        '{"result": {"ID": "5"', content_type="application/json"
    )
    with pytest.raises(CrmError, match="not JSON"):
        adapter.get_contact("5")
    crm_server.clear()
    crm_server.expect_request(rest("crm.contact.get")).respond_with_json({"time": {}})
    with pytest.raises(CrmError, match="unexpected answer"):
        adapter.get_contact("5")


def test_a_timed_out_comment_may_exist_and_is_not_sent_twice(adapter, crm_server, release):
    def slow(request):
        release.wait(5)
        return Response(json.dumps(bitrix(101)), content_type="application/json")

    crm_server.expect_request(rest("crm.timeline.comment.add")).respond_with_handler(slow)
    adapter.http.timeout = (2.0, SHORT_READ_TIMEOUT)
    with pytest.raises(CrmError) as raised:
        adapter.add_note("5", "ref hdk1", key="hdk1", when=datetime(2026, 1, 1))
    release.set()
    assert raised.value.maybe_delivered
    assert len(crm_server.log) <= 1


def test_outbound_webhooks_are_verified_by_their_application_token(adapter):
    body = b"event=ONCRMCONTACTUPDATE&data%5BFIELDS%5D%5BID%5D=5&auth%5Bapplication_token%5D="
    assert adapter.verify_webhook("POST", "/", {}, body + b"app-token-1")
    assert not adapter.verify_webhook("POST", "/", {}, body + b"forged")
    assert not adapter.verify_webhook("POST", "/", {}, b"event=ONCRMCONTACTUPDATE")
