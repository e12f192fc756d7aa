"""The account pages: users make and revoke API tokens; admins watch webhook deliveries.
CSRF protection is on here, as in production."""

import re

import pytest
from sqlalchemy import select

from helpdesk import crypto
from helpdesk.accounts.models import ApiToken
from helpdesk.extensions import db
from helpdesk.outbox.models import OutboxItem
from helpdesk.timeutil import utcnow
from helpdesk.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from helpdesk.webhooks.services import DELIVER
from tests.conftest import PASSWORD


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def _csrf(page) -> str:
    match = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)
    )
    assert match, "the page has no CSRF token"
    return match.group(1)


def _sign_in(client, email):
    token = _csrf(client.get("/login"))
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_a_user_creates_a_token_sees_it_once_and_it_works(client, make):
    user = make.customer()
    db.session.commit()
    _sign_in(client, user.email)
    form = client.get("/account/tokens")

    created = client.post("/account/tokens", data={"name": "Zapier", "csrf_token": _csrf(form)})

    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    token = re.search(r'<code id="new-token">([^<]+)</code>', created.get_data(as_text=True)).group(
        1
    )
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "Zapier" in listing and token not in listing and token[:8] in listing
    api_answer = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})
    assert api_answer.status_code == 200


def test_a_revoked_token_is_refused_by_the_api(client, make):
    from helpdesk.accounts.services import create_token

    user = make.agent()
    token = create_token(user, "old script")
    db.session.commit()
    row = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    _sign_in(client, user.email)
    page = client.get("/account/tokens")

    revoked = client.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": _csrf(page)})

    assert revoked.status_code == 302
    answer = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert "revoked" in client.get("/account/tokens").get_data(as_text=True)


def test_forms_without_the_csrf_token_change_nothing(client, make):
    user = make.customer()
    db.session.commit()
    _sign_in(client, user.email)

    response = client.post("/account/tokens", data={"name": "Sneaky"})

    assert response.status_code == 400
    assert db.session.execute(select(ApiToken)).first() is None


def test_someone_elses_token_cannot_be_revoked(client, make):
    from helpdesk.accounts.services import create_token

    owner, other = make.customer(), make.customer()
    create_token(owner, "mine")
    db.session.commit()
    row = db.session.execute(select(ApiToken)).scalar_one()
    _sign_in(client, other.email)

    response = client.post(
        f"/account/tokens/{row.id}/revoke",
        data={"csrf_token": _csrf(client.get("/account/tokens"))},
    )

    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).revoked_at is None


def _endpoint_with_failed_delivery() -> WebhookDelivery:
    endpoint = WebhookEndpoint(
        url="http://127.0.0.1:9/hook",
        secret_encrypted=crypto.encrypt("a-secret-of-enough-length"),
        events="ticket.created",
        active=True,
        consecutive_failures=0,
    )
    delivery = WebhookDelivery(
        endpoint=endpoint,
        event="ticket.created",
        body="{}",
        status=DeliveryStatus.FAILED,
        attempts=7,
        response_code=503,
        error="HTTP 503",
        created_at=utcnow(),
    )
    db.session.add_all([endpoint, delivery])
    db.session.commit()
    return delivery


def test_admin_sees_endpoints_and_deliveries_and_resends_one(client, make):
    admin = make.admin()
    delivery = _endpoint_with_failed_delivery()
    _sign_in(client, admin.email)

    page = client.get("/account/webhooks")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "http://127.0.0.1:9/hook" in html and "HTTP 503" in html and "failed" in html

    resend = client.post(
        f"/account/webhooks/deliveries/{delivery.id}/resend", data={"csrf_token": _csrf(page)}
    )

    assert resend.status_code == 302
    db.session.expire_all()
    assert db.session.get(WebhookDelivery, delivery.id).status == DeliveryStatus.PENDING
    queued = db.session.execute(select(OutboxItem).where(OutboxItem.kind == DELIVER)).scalar_one()
    assert f'"delivery_id": {delivery.id}' in queued.payload

    paused = client.post(
        f"/account/webhooks/{delivery.endpoint_id}/toggle",
        data={"csrf_token": _csrf(client.get("/account/webhooks"))},
    )
    assert paused.status_code == 302
    assert db.session.get(WebhookEndpoint, delivery.endpoint_id).active is False


def test_the_webhook_page_is_for_admins_only(client, make):
    agent = make.agent()
    db.session.commit()
    _sign_in(client, agent.email)

    assert client.get("/account/webhooks").status_code == 404
    assert client.get("/account/tokens").status_code == 200
