"""API test helpers: a client that sends a user's token, a live server on 127.0.0.1."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from helpdesk.accounts.services import create_token
from helpdesk.extensions import db

API = "/api/v1"


@pytest.fixture
def app_config(app_config):
    # Webhook receivers in these tests listen on 127.0.0.1, over plain http.
    return {**app_config, "HELPDESK_WEBHOOKS_ALLOW_PRIVATE": True}


class ApiClient:
    """The Flask test client, with `Authorization: Bearer <token>` and the /api/v1 prefix."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    def _headers(self, extra: dict | None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def request(self, method: str, path: str, headers: dict | None = None, **kwargs):
        return self.client.open(API + path, method=method, headers=self._headers(headers), **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


def token_for(user) -> str:
    token = create_token(user, "tests")
    db.session.commit()
    return token


@pytest.fixture
def api(client):
    """api(user) -> an ApiClient acting with a fresh token of that user."""

    def for_user(user) -> ApiClient:
        return ApiClient(client, token_for(user))

    return for_user


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The answer is the API's JSON error shape with this status (and code)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    if code is not None:
        assert error["code"] == code
    return error


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve the app on 127.0.0.1 in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
