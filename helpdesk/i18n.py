"""Language and time zone of each request (Flask-Babel selectors) and template helpers.

The language comes from `?lang=` (remembered in a cookie), then that cookie, then the signed-in
user's profile, then the browser's Accept-Language. The time zone is the user's own, else the
business's `timezone` setting.
"""

from urllib.parse import urlencode

import pytz
from flask import Flask, g, has_request_context, request
from flask_babel import get_locale, get_timezone, refresh
from flask_login import current_user

from helpdesk.extensions import babel

LOCALES = {"en": "English", "pt_BR": "Português (Brasil)", "ru": "Русский"}
# What `pybabel extract` looks for besides gettext's own names: lazy strings, marked strings,
# and the domain errors' messages (see helpdesk.errors). `make messages` and the catalog test
# both use this list.
CATALOG_KEYWORDS = (
    "_l",
    "N_",
    "NN_:1,2",
    "DomainError",
    "ValidationError",
    "NotFound",
    "PermissionDenied",
    "InvalidTransition",
    "Conflict",
    "RateLimited",
    "require_admin:2",
)
DEFAULT_LOCALE = "en"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 86400
_BY_LOWER = {code.lower().replace("_", "-"): code for code in LOCALES}


def N_(msgid: str) -> str:
    """Mark a string for the catalog; it is translated when shown (gettext)."""
    return msgid


def NN_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular/plural pair for the catalog; `num` picks the form when it is shown."""
    return singular, plural


def supported_locale(value: str | None) -> str | None:
    """The supported locale code for `value` ("pt-br", "pt_BR", "ru"), or None."""
    if not value:
        return None
    return _BY_LOWER.get(value.strip().lower().replace("_", "-")[:10])


def supported_timezone(value: str | None) -> str | None:
    return value if value in pytz.all_timezones_set else None


def _request_user():
    """The signed-in user, or the requester a signed link acts for (set by the link views)."""
    if current_user.is_authenticated:
        return current_user
    return g.get("link_user")


def chosen_locale() -> str | None:
    """A language the visitor picked in this browser (not merely the browser's default)."""
    from_query = supported_locale(request.args.get("lang"))
    return from_query or supported_locale(request.cookies.get(COOKIE))


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LOCALE
    user = _request_user()
    return (
        chosen_locale()
        or supported_locale(user.locale if user is not None else None)
        or request.accept_languages.best_match(list(LOCALES))
        or DEFAULT_LOCALE
    )


def select_timezone() -> str:
    from helpdesk.settings import get_setting

    user = _request_user() if has_request_context() else None
    zone = supported_timezone(user.timezone if user is not None else None)
    return zone or supported_timezone(get_setting("timezone")) or "UTC"


def lang_url(code: str) -> str:
    """This page in another language (a plain link: the switcher needs no JavaScript)."""
    if request.method == "GET":
        path = request.path
        args = {k: v for k, v in request.args.items(multi=True) if k != "lang"}
    else:  # a form answered with a page: link to the page the form belongs to
        path, args = g.get("page_url") or request.path, {}
    return f"{path}?{urlencode({**args, 'lang': code})}"


def remember_locale(response, code: str):
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return response


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)

    @app.before_request
    def _fresh_choice():
        # Flask-Babel caches its choice on `g`, which outlives a request when an app context
        # was already pushed (a CLI command or test serving several requests): choose afresh.
        refresh()
        g.pop("page_url", None)
        g.pop("link_user", None)

    @app.after_request
    def _remember_chosen_locale(response):
        chosen = supported_locale(request.args.get("lang"))
        if chosen and request.cookies.get(COOKIE) != chosen:
            remember_locale(response, chosen)
        return response

    @app.context_processor
    def _i18n_helpers():
        return {
            "locales": LOCALES,
            "lang_url": lang_url,
            "get_locale": get_locale,
            "timezone_name": lambda: str(get_timezone()),
        }
