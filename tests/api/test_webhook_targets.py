"""Webhook targets outside tests: https only, and never a private or local address."""

import pytest

from helpdesk.extensions import db
from tests.api.conftest import assert_error


@pytest.fixture
def app_config(app_config):
    return {**app_config, "HELPDESK_WEBHOOKS_ALLOW_PRIVATE": False}


REFUSED = [
    "http://93.184.216.34/hook",  # not https
    "https://127.0.0.1/hook",
    "https://localhost:8443/hook",
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "https://user:pw@93.184.216.34/hook",
    "ftp://93.184.216.34/hook",
    "https:///hook",
]


def test_private_loopback_link_local_and_plain_http_targets_are_refused(api, make):
    admin_api = api(make.admin())

    for url in REFUSED:
        response = admin_api.post("/webhooks", json={"url": url, "events": ["ticket.created"]})
        assert "url" in assert_error(response, 422)["fields"], url
    assert admin_api.get("/webhooks").get_json()["items"] == []


def test_a_public_https_address_is_accepted(api, make):
    admin_api = api(make.admin())

    response = admin_api.post(
        "/webhooks", json={"url": "https://93.184.216.34/hook", "events": ["ticket.created"]}
    )

    assert response.status_code == 201
    db.session.expire_all()
    assert admin_api.get("/webhooks").get_json()["items"][0]["url"] == "https://93.184.216.34/hook"
