"""Rate limits per token: too many requests get 429 with Retry-After, other tokens go on."""

import pytest

from tests.api.conftest import assert_error


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RATELIMIT_ENABLED": True, "HELPDESK_API_RATE_LIMIT": "3 per minute"}


def test_too_many_requests_for_one_token_get_429_with_retry_after(api, make):
    busy, other = api(make.agent()), api(make.agent())

    answers = [busy.get("/tickets").status_code for _ in range(3)]
    limited = busy.get("/tickets")

    assert answers == [200, 200, 200]
    assert_error(limited, 429, "rate_limited")
    assert 0 <= int(limited.headers["Retry-After"]) <= 60
    assert other.get("/tickets").status_code == 200
