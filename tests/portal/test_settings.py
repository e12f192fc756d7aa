"""Business settings: configured defaults, stored overrides, and checked values."""

import pytest

from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.settings import (
    get_setting,
    reset_setting,
    set_setting,
    team_for_category,
)


def test_defaults_come_from_the_app_config(app):
    app.config["HELPDESK_REOPEN_DAYS"] = 12
    assert get_setting("reopen_days") == 12
    assert get_setting("signup_policy") == "open"
    assert get_setting("categories") == []
    assert get_setting("customer_priority") is False
    assert get_setting("timezone") == "UTC"
    assert get_setting("link_days") == 30


def test_a_stored_value_overrides_the_default_until_it_is_reset(app):
    set_setting("signup_policy", "domains")
    db.session.commit()
    assert get_setting("signup_policy") == "domains"
    reset_setting("signup_policy")
    db.session.commit()
    assert get_setting("signup_policy") == "open"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("reopen_days", 0),
        ("reopen_days", "7"),
        ("reopen_days", True),
        ("link_days", 5000),
        ("signup_policy", "everyone"),
        ("customer_priority", "yes"),
        ("timezone", "Mars/Olympus_Mons"),
        ("categories", "Billing"),
        ("categories", [{"name": ""}]),
        ("categories", [{"name": "A"}, {"name": "A"}]),
        ("categories", [{"name": "A", "team": 3}]),
    ],
)
def test_bad_values_are_refused(app, name, value):
    before = get_setting(name)
    with pytest.raises(ValidationError):
        set_setting(name, value)
    assert get_setting(name) == before  # nothing was stored


def test_unknown_settings_are_a_programming_error(app):
    with pytest.raises(KeyError):
        get_setting("colour_scheme")


def test_a_category_names_its_team(app, make):
    support = make.team("Support")
    set_setting("categories", [{"name": "Hardware", "team": "Support"}, {"name": "Misc"}])
    assert team_for_category("Hardware").id == support.id
    assert team_for_category("Misc") is None
    with pytest.raises(ValidationError):
        team_for_category("Not a category")


def test_without_categories_no_team_is_chosen(app):
    assert team_for_category(None) is None
