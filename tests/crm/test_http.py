"""The CRM HTTP client against a real local server: limits, waits, timeouts, refusals."""

import logging
from datetime import UTC, datetime

import pytest
from werkzeug import Response

from helpdesk.crm.http import HttpClient, UrlRefused, check_url, retry_after_seconds
from helpdesk.crm.protocol import CrmAuthError, CrmError, CrmRateLimited
from tests.crm.conftest import SHORT_READ_TIMEOUT, http_settings

SECRET = "k9s3cr3tw3bh00k"


def client(server, waits, **overrides) -> HttpClient:
    return HttpClient(
        server.url_for(f"/rest/1/{SECRET}/"), secrets=(SECRET,), **http_settings(waits, **overrides)
    )


def test_only_https_to_public_addresses_is_allowed_outside_tests():
    with pytest.raises(UrlRefused, match="https"):
        check_url("http://crm.example.com/")
    for url in ("https://127.0.0.1/", "https://localhost:8443/", "https://[::1]/"):
        with pytest.raises(UrlRefused, match="private or local"):
            check_url(url)
    with pytest.raises(UrlRefused, match="without user name"):
        check_url("https://user:pw@crm.example.com/")
    assert check_url("http://127.0.0.1:9/", allow_private=True) == "http://127.0.0.1:9/"


def test_retry_after_is_read_as_seconds_or_as_a_date():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon") is None


def test_a_429_with_retry_after_is_waited_out_and_the_call_repeated(crm_server, waits):
    path = f"/rest/1/{SECRET}/crm.contact.get.json"
    crm_server.expect_ordered_request(path).respond_with_json(
        {"message": "slow down"}, status=429, headers={"Retry-After": "3"}
    )
    crm_server.expect_ordered_request(path).respond_with_json({"result": {"ID": "5"}})
    answer = client(crm_server, waits).request("POST", "crm.contact.get.json", json_body={"id": 5})
    assert answer == {"result": {"ID": "5"}}
    assert waits == [3.0]
    assert len(crm_server.log) == 2


def test_a_wait_longer_than_a_handler_should_take_goes_back_to_the_outbox(crm_server, waits):
    crm_server.expect_request(f"/rest/1/{SECRET}/m.json").respond_with_json(
        {}, status=429, headers={"Retry-After": "3600"}
    )
    with pytest.raises(CrmRateLimited) as raised:
        client(crm_server, waits).request("POST", "m.json")
    assert raised.value.retry_after == 3600
    assert waits == [] and len(crm_server.log) == 1


def test_refused_credentials_are_not_retried(crm_server, waits):
    crm_server.expect_request(f"/rest/1/{SECRET}/m.json").respond_with_json(
        {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"},
        status=401,
    )
    with pytest.raises(CrmAuthError, match="HTTP 401"):
        client(crm_server, waits).request("POST", "m.json")
    assert len(crm_server.log) == 1


def test_a_timed_out_write_is_not_repeated_and_may_have_been_delivered(crm_server, waits, release):
    def slow(request):
        release.wait(5)
        return Response("{}", content_type="application/json")

    crm_server.expect_request(f"/rest/1/{SECRET}/add.json").respond_with_handler(slow)
    with pytest.raises(CrmError) as raised:
        client(crm_server, waits, timeout=(2.0, SHORT_READ_TIMEOUT)).request(
            "POST", "add.json", idempotent=False
        )
    release.set()
    assert raised.value.maybe_delivered
    assert "no answer in time" in raised.value.message
    assert len([r for r, _ in crm_server.log]) <= 1


def test_a_timed_out_read_is_tried_again(crm_server, waits, release):
    calls = []

    def slow_once(request):
        calls.append(1)
        if len(calls) == 1:
            release.wait(5)
        return Response('{"result": 1}', content_type="application/json")

    crm_server.expect_request(f"/rest/1/{SECRET}/get.json").respond_with_handler(slow_once)
    hasty = client(crm_server, waits, timeout=(2.0, SHORT_READ_TIMEOUT))
    assert hasty.request("POST", "get.json") == {"result": 1}
    release.set()
    assert len(calls) == 2


def test_an_answer_that_is_not_json_is_an_error(crm_server, waits):
    crm_server.expect_request(f"/rest/1/{SECRET}/m.json").respond_with_data(
        "<html>Bad gateway page</html>", content_type="text/html"
    )
    with pytest.raises(CrmError, match="not JSON"):
        client(crm_server, waits).request("POST", "m.json")


def test_server_errors_are_retried_with_backoff_then_reported(crm_server, waits):
    crm_server.expect_request(f"/rest/1/{SECRET}/m.json").respond_with_data("oops", status=502)
    with pytest.raises(CrmError, match="HTTP 502") as raised:
        client(crm_server, waits, backoff=0.25, attempts=3).request("POST", "m.json")
    assert len(crm_server.log) == 3
    assert len(waits) == 2 and 0.125 <= waits[0] <= 0.375 and 0.25 <= waits[1] <= 0.75
    assert raised.value.status == 502


def test_redirects_are_not_followed(crm_server, waits):
    crm_server.expect_request(f"/rest/1/{SECRET}/m.json").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/"}
    )
    with pytest.raises(CrmError, match="redirected"):
        client(crm_server, waits).request("POST", "m.json")
    assert len(crm_server.log) == 1


def test_the_webhook_secret_never_reaches_errors_or_logs(crm_server, waits, caplog):
    crm_server.expect_request(f"/rest/1/{SECRET}/m.json").respond_with_data("down", status=503)
    broken = client(crm_server, waits, attempts=2)
    with caplog.at_level(logging.DEBUG), pytest.raises(CrmError) as raised:
        broken.request("POST", "m.json")
    assert SECRET not in raised.value.message and "***" in raised.value.message
    ours = [r for r in caplog.records if r.name != "werkzeug"]  # werkzeug: the fake CRM's side
    assert any(r.name.startswith("urllib3") for r in ours)
    assert all(SECRET not in r.getMessage() for r in ours)
    unreachable = HttpClient(
        f"http://127.0.0.1:9/rest/1/{SECRET}/", secrets=(SECRET,), **http_settings(waits)
    )
    with pytest.raises(CrmError) as raised:
        unreachable.request("POST", "m.json")
    assert "cannot connect" in raised.value.message and SECRET not in raised.value.message
    # requests' own exception names the URL: it must not ride along in the traceback.
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__
