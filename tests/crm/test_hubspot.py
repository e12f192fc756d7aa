"""The HubSpot adapter against a local server replaying HubSpot's documented answers. The
answers and the requests we send are checked against the official client's models."""

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime

import pytest
from werkzeug import Response

from helpdesk.crm.hubspot import CONTACT_PROPERTIES, HubSpotAdapter
from helpdesk.crm.protocol import CrmAuthError, CrmError, CrmRateLimited
from tests.crm import vendor
from tests.crm.conftest import SHORT_READ_TIMEOUT, http_settings
from tests.crm.payloads import (
    HUBSPOT_COMPANY,
    HUBSPOT_CONTACT,
    HUBSPOT_OWNER,
    hubspot_associations,
    hubspot_error,
    hubspot_object,
    hubspot_page,
)

TOKEN = "pat-eu1-11111111-2222-3333-4444-555555555555"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ASSOCIATIONS = "/crm/v4/objects/contacts/151/associations/companies"


@pytest.fixture
def adapter(crm_server, waits) -> HubSpotAdapter:
    return HubSpotAdapter(
        TOKEN,
        base_url=crm_server.url_for(""),
        web_url="https://app.hubspot.com/contacts/4711",
        webhook_secret="client-secret",
        **http_settings(waits),
    )


def email_search(email: str, after: str | None = None) -> dict:
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]},
            {
                "filters": [
                    {
                        "propertyName": "hs_additional_emails",
                        "operator": "CONTAINS_TOKEN",
                        "value": email,
                    }
                ]
            },
        ],
        "properties": CONTACT_PROPERTIES,
        "limit": 100,
    }
    return body | ({"after": after} if after else {})


def test_the_fixtures_are_hubspots_own_shapes():
    page = vendor.model(
        "contacts",
        "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
        hubspot_page([HUBSPOT_CONTACT], after="151"),
    )
    assert page.results[0].properties["email"] == "anna@acme.test"
    assert page.paging.next.after == "151"
    assert vendor.model("companies", "SimplePublicObjectWithAssociations", HUBSPOT_COMPANY).id
    links = vendor.model(
        "associations",
        "CollectionResponseMultiAssociatedObjectWithLabelForwardPaging",
        hubspot_associations("9001", "9002", primary="9001"),
    )
    assert links.results[0].association_types[0].label == "Primary"
    assert vendor.model("owners", "PublicOwner", HUBSPOT_OWNER).first_name == "Jonas"
    assert vendor.model("contacts", "Error", hubspot_error(401, "INVALID_AUTHENTICATION", "x"))
    with pytest.raises(ValueError, match="total"):  # the check has teeth
        vendor.model(
            "contacts",
            "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
            {"results": []},
        )


def test_a_contact_is_searched_by_all_its_addresses_with_the_token(adapter, crm_server):
    assert vendor.same_as_model("contacts", "PublicObjectSearchRequest", email_search("a@x.test"))
    crm_server.expect_ordered_request(
        "/crm/v3/objects/contacts/search",
        method="POST",
        json=email_search("anna@acme.test"),
        headers=AUTH,
    ).respond_with_json(hubspot_page([HUBSPOT_CONTACT]))
    crm_server.expect_ordered_request(
        ASSOCIATIONS, method="GET", query_string={"limit": "100"}, headers=AUTH
    ).respond_with_json(hubspot_associations("9002", "9001", primary="9001"))
    crm_server.expect_ordered_request("/crm/v3/owners/77", method="GET").respond_with_json(
        HUBSPOT_OWNER
    )
    [anna] = adapter.find_contacts(email="anna@acme.test")
    crm_server.check_assertions()
    assert anna.external_id == "151" and anna.name == "Anna Petrova"
    assert anna.emails == ("anna@acme.test", "a.petrova@acme.test", "anna.p@gmail.com")
    assert (anna.company_id, anna.owner) == ("9001", "Jonas Weber")  # the Primary one
    assert anna.url == "https://app.hubspot.com/contacts/4711/record/0-1/151"


def test_search_results_are_followed_across_pages(adapter, crm_server):
    second = hubspot_object("152", {"email": "anna@acme.test", "firstname": "Anna (2)"})
    crm_server.expect_ordered_request(
        "/crm/v3/objects/contacts/search", json=email_search("anna@acme.test")
    ).respond_with_json(hubspot_page([HUBSPOT_CONTACT | {"properties": {}}], after="1", total=2))
    crm_server.expect_ordered_request(
        "/crm/v3/objects/contacts/search", json=email_search("anna@acme.test", after="1")
    ).respond_with_json(hubspot_page([second], total=2))
    crm_server.expect_request(ASSOCIATIONS).respond_with_json({"results": []})
    crm_server.expect_request(
        "/crm/v4/objects/contacts/152/associations/companies"
    ).respond_with_json({"results": []})
    found = adapter.find_contacts(email="anna@acme.test")
    assert [c.external_id for c in found] == ["151", "152"]


def test_a_contact_and_company_are_read_with_the_properties_we_show(adapter, crm_server):
    crm_server.expect_request(
        "/crm/v3/objects/contacts/151",
        method="GET",
        query_string={"properties": ",".join(CONTACT_PROPERTIES)},
    ).respond_with_json(HUBSPOT_CONTACT | {"properties": {"email": "anna@acme.test"}})
    crm_server.expect_request(ASSOCIATIONS).respond_with_json(hubspot_associations("9001"))
    crm_server.expect_request(
        "/crm/v3/objects/companies/9001",
        query_string={"properties": "name,domain,hs_additional_domains,phone,hubspot_owner_id"},
    ).respond_with_json(HUBSPOT_COMPANY)
    crm_server.expect_request("/crm/v3/owners/77").respond_with_json(
        hubspot_error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes"),
        status=403,
    )
    anna = adapter.get_contact("151")
    assert (anna.name, anna.company_id, anna.owner) == ("anna@acme.test", "9001", None)
    company = adapter.get_company("9001")
    assert company.domains == ("acme.test", "acme.example")
    assert company.owner == "owner #77"


def test_a_missing_contact_is_none(adapter, crm_server):
    crm_server.expect_request("/crm/v3/objects/contacts/404").respond_with_json(
        hubspot_error(404, "OBJECT_NOT_FOUND", "resource not found"), status=404
    )
    assert adapter.get_contact("404") is None


def test_a_note_is_created_on_the_contact_with_its_marker(adapter, crm_server):
    body = {
        "properties": {
            "hs_timestamp": "2026-11-27T09:15:00.250Z",
            "hs_note_body": "Support ticket #7 opened: Printer &lt;jammed&gt;<br>ref hdk1",
        },
        "associations": [
            {
                "to": {"id": "151"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
            }
        ],
    }
    assert vendor.same_as_model("notes", "SimplePublicObjectInputForCreate", body)
    crm_server.expect_request(
        "/crm/v3/objects/notes", method="POST", json=body, headers=AUTH
    ).respond_with_json(hubspot_object("5551", {"hs_note_body": "…"}), status=201)
    note = adapter.add_note(
        "151",
        "Support ticket #7 opened: Printer <jammed>\nref hdk1",
        key="hdk1",
        when=datetime(2026, 11, 27, 9, 15, 0, 250000),
    )
    assert note.external_id == "5551"


def test_a_note_is_found_by_searching_for_its_marker(adapter, crm_server):
    search = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "hs_note_body", "operator": "CONTAINS_TOKEN", "value": "hdk1"}
                ]
            }
        ],
        "properties": ["hs_note_body"],
        "limit": 100,
    }
    assert vendor.same_as_model("notes", "PublicObjectSearchRequest", search)
    crm_server.expect_request("/crm/v3/objects/notes/search", json=search).respond_with_json(
        hubspot_page(
            [
                hubspot_object("5550", {"hs_note_body": "mentions hdk10 only"}),
                hubspot_object("5551", {"hs_note_body": "Ticket #7<br>ref hdk1"}),
            ]
        )
    )
    assert adapter.find_note("151", "hdk1") == "5551"


def test_a_429_is_waited_out_for_as_long_as_retry_after_says(adapter, crm_server, waits):
    crm_server.expect_ordered_request("/crm/v3/objects/companies/9001").respond_with_json(
        hubspot_error(429, "RATE_LIMITS", "You have reached your secondly limit.")
        | {"errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
        status=429,
        headers={"Retry-After": "2"},
    )
    crm_server.expect_ordered_request("/crm/v3/objects/companies/9001").respond_with_json(
        HUBSPOT_COMPANY | {"properties": {"name": "Acme GmbH"}}
    )
    assert adapter.get_company("9001").name == "Acme GmbH"
    assert waits == [2.0]


def test_an_exhausted_rate_limit_window_delays_the_next_call(adapter, crm_server, waits):
    crm_server.expect_request("/crm/v3/objects/companies/9001").respond_with_json(
        HUBSPOT_COMPANY | {"properties": {"name": "Acme GmbH"}},
        headers={
            "X-HubSpot-RateLimit-Max": "190",
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        },
    )
    adapter.get_company("9001")
    assert waits == []
    adapter.get_company("9001")
    assert len(waits) == 1 and 9.0 < waits[0] <= 10.0


def test_a_long_retry_after_is_left_to_the_outbox(adapter, crm_server):
    crm_server.expect_request("/crm/v3/objects/notes").respond_with_json(
        hubspot_error(429, "RATE_LIMITS", "daily limit"),
        status=429,
        headers={"Retry-After": "86400"},
    )
    with pytest.raises(CrmRateLimited):
        adapter.add_note("151", "x", key="hdk1", when=datetime(2026, 1, 1))
    assert len(crm_server.log) == 1


def test_an_expired_token_is_an_auth_error_without_the_token(adapter, crm_server):
    crm_server.expect_request("/account-info/v3/details").respond_with_json(
        hubspot_error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found."),
        status=401,
    )
    with pytest.raises(CrmAuthError) as raised:
        adapter.health_check()
    assert TOKEN not in raised.value.message


def test_the_health_check_learns_where_records_are_shown(crm_server, waits):
    adapter = HubSpotAdapter(TOKEN, base_url=crm_server.url_for(""), **http_settings(waits))
    assert adapter.record_url("contact", "151") is None
    crm_server.expect_request("/account-info/v3/details", headers=AUTH).respond_with_json(
        {"portalId": 4711, "timeZone": "Europe/Berlin", "uiDomain": "app-eu1.hubspot.com"}
    )
    assert adapter.health_check() == "HubSpot account 4711"
    assert adapter.record_url("organization", "9") == (
        "https://app-eu1.hubspot.com/contacts/4711/record/0-2/9"
    )


def test_malformed_and_unexpected_answers_are_errors(adapter, crm_server):
    crm_server.expect_ordered_request("/crm/v3/objects/contacts/search").respond_with_data(
        '{"results": [', content_type="application/json"
    )
    crm_server.expect_ordered_request("/crm/v3/objects/contacts/search").respond_with_json(
        {"status": "ok"}
    )
    with pytest.raises(CrmError, match="not JSON"):
        adapter.find_contacts(email="anna@acme.test")
    with pytest.raises(CrmError, match="no results"):
        adapter.find_contacts(email="anna@acme.test")


def test_a_timed_out_note_is_reported_as_maybe_delivered(adapter, crm_server, release):
    def slow(request):
        release.wait(5)
        return Response(json.dumps(hubspot_object("1", {})), status=201)

    crm_server.expect_request("/crm/v3/objects/notes").respond_with_handler(slow)
    adapter.http.timeout = (2.0, SHORT_READ_TIMEOUT)
    with pytest.raises(CrmError) as raised:
        adapter.add_note("151", "x", key="hdk1", when=datetime(2026, 1, 1))
    release.set()
    assert raised.value.maybe_delivered


def sign(secret: str, method: str, url: str, body: bytes, stamp: str) -> str:
    digest = hmac.new(
        secret.encode(), method.encode() + url.encode() + body + stamp.encode(), hashlib.sha256
    )
    return base64.b64encode(digest.digest()).decode()


def test_webhooks_are_verified_by_signature_v3_and_refused_when_old(adapter):
    body = b'[{"objectId": 151, "subscriptionType": "contact.propertyChange"}]'
    url = "https://help.example.test/crm/webhooks/1"
    now = str(int(time.time() * 1000))
    good = {"X-HubSpot-Signature-v3": sign("client-secret", "POST", url, body, now),
            "X-HubSpot-Request-Timestamp": now}  # fmt: skip
    assert adapter.verify_webhook("POST", url, good, body)
    assert not adapter.verify_webhook("POST", url, good, body + b" ")
    old = str(int(time.time() * 1000) - 10 * 60 * 1000)
    stale = {"X-HubSpot-Signature-v3": sign("client-secret", "POST", url, body, old),
             "X-HubSpot-Request-Timestamp": old}  # fmt: skip
    assert not adapter.verify_webhook("POST", url, stale, body)


def test_a_contact_is_searched_by_phone_in_both_phone_fields(adapter, crm_server):
    search = {
        "filterGroups": [
            {"filters": [{"propertyName": "phone", "operator": "EQ", "value": "+4930901820"}]},
            {
                "filters": [
                    {"propertyName": "mobilephone", "operator": "EQ", "value": "+4930901820"}
                ]
            },
        ],
        "properties": CONTACT_PROPERTIES,
        "limit": 100,
    }
    assert vendor.same_as_model("contacts", "PublicObjectSearchRequest", search)
    crm_server.expect_request("/crm/v3/objects/contacts/search", json=search).respond_with_json(
        hubspot_page([])
    )
    assert adapter.find_contacts(phone="+4930901820") == []
    assert len(crm_server.log) == 1
