"""Every failure is JSON {"error": {"code", "message", "fields"}} with the right status."""

from helpdesk.accounts.models import ApiToken
from helpdesk.accounts.services import revoke_token
from helpdesk.extensions import db
from tests.api.conftest import ApiClient, assert_error


def test_requests_without_a_valid_token_are_refused_with_401(client, api, make):
    user = make.customer()
    db.session.commit()
    revoked = api(user)
    token_row = db.session.query(ApiToken).filter_by(user_id=user.id).one()
    revoke_token(user, token_row.id)
    db.session.commit()

    for response in (
        ApiClient(client, None).get("/tickets"),
        ApiClient(client, "hd_not-a-real-token").get("/tickets"),
        client.get("/api/v1/tickets", headers={"Authorization": "Basic dXNlcjpwYXNz"}),
        revoked.get("/tickets"),
    ):
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_a_disabled_users_token_stops_working(api, make):
    user = make.agent()
    db.session.commit()
    client = api(user)
    assert client.get("/tickets").status_code == 200

    user.active = False
    db.session.commit()

    assert_error(client.get("/tickets"), 401)


def test_unknown_paths_methods_and_numbers_answer_in_json(api, make):
    client = api(make.agent())

    assert_error(client.get("/nothing-here"), 404, "not_found")
    assert_error(client.get("/"), 404, "not_found")
    wrong_method = client.delete("/tickets")
    assert_error(wrong_method, 405, "method_not_allowed")
    assert set(wrong_method.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert_error(client.get("/tickets/99999999999"), 404)
    assert_error(client.get("/tickets/12345"), 404)


def test_bad_bodies_get_400_415_and_422_with_per_field_messages(api, make):
    client = api(make.customer())

    broken = client.post("/tickets", data="{not json", content_type="application/json")
    assert_error(broken, 400, "bad_request")
    as_form = client.post("/tickets", data={"subject": "x"}, content_type="text/plain")
    assert_error(as_form, 415, "unsupported_media_type")
    invalid = client.post("/tickets", json={"subject": 5, "extra": True})
    fields = assert_error(invalid, 422, "invalid")["fields"]
    assert set(fields) == {"subject", "body", "extra"}
    not_an_object = client.post("/tickets", json=["subject"])
    assert_error(not_an_object, 422)
    empty_subject = client.post("/tickets", json={"subject": "  ", "body": "b"})
    assert assert_error(empty_subject, 422)["fields"] == {"subject": "Required."}
    nul = client.get("/tickets", query_string={"q": "a\x00b"})
    assert nul.status_code == 200
    superscript_two = client.get("/tickets", query_string={"requester": "²"})
    assert "requester" in assert_error(superscript_two, 422)["fields"]


def test_the_openapi_document_and_reference_page_are_public(client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    doc = document.get_json()
    assert doc["openapi"].startswith("3.1")
    assert {"/tickets", "/tickets/{number}", "/contacts/{id}"} <= set(doc["paths"])
    patch = doc["paths"]["/tickets/{number}"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TicketUpdate"
    }
    assert {"412", "409", "422", "401", "429"} <= set(patch["responses"])
    payload = doc["webhooks"]["ticket.created"]["post"]["requestBody"]["content"]
    assert (
        payload["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        in doc["components"]["schemas"]
    )
    assert set(doc["webhooks"]) == {
        "ticket.created",
        "ticket.updated",
        "ticket.status_changed",
        "ticket.assigned",
        "ticket.message_added",
    }

    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for path, methods in doc["paths"].items():
        for method in methods:
            assert f"{method.upper()} /api/v1{path}" in html
    assert 'id="schema-TicketCreate"' in html and "<script" not in html
