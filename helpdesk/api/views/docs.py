"""The OpenAPI document, its human-readable rendering, and JSON answers for unknown paths."""

import functools

from flask import current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from helpdesk.api import bp
from helpdesk.api.openapi import document
from helpdesk.api.routing import operation
from helpdesk.settings import business_name

TAG = "Reference"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@functools.cache
def _document(title: str) -> dict:
    return document(title)


def api_document() -> dict:
    return _document(f"{business_name()} API")


@operation(
    "GET",
    "/openapi.json",
    summary="This API's OpenAPI 3.1 document",
    tag=TAG,
    responses={200: {"application/json": {"type": "object"}}},
    public=True,
)
def openapi_json():
    return jsonify(api_document())


def _schema_label(schema: dict) -> Markup:
    """A short type for the reference page: `string`, `array of Ticket`, `Status | null`."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    if "anyOf" in schema:
        return Markup(" | ").join(_schema_label(option) for option in schema["anyOf"])
    if "enum" in schema:
        values = ", ".join(str(v) for v in schema["enum"])
        return Markup.escape(_("one of: %(values)s")) % {"values": values}
    if "const" in schema:
        return Markup("{}").format(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        item = _schema_label(schema.get("items", {}))
        return Markup.escape(_("array of %(type)s")) % {"type": item}
    if kind == "object" and "additionalProperties" in schema:
        return Markup("object")
    if "format" in schema:
        return Markup("{} ({})").format(kind, schema["format"])
    return Markup("{}").format(kind)


# How the reference page words a schema's limits (the value fills %(value)s).
LIMIT_WORDS = (
    ("minLength", _l("min length %(value)s")),
    ("maxLength", _l("max length %(value)s")),
    ("minimum", _l("min %(value)s")),
    ("maximum", _l("max %(value)s")),
    ("minItems", _l("min items %(value)s")),
    ("maxItems", _l("max items %(value)s")),
    ("pattern", _l("pattern %(value)s")),
    ("default", _l("default %(value)s")),
)


def _limits(schema: dict) -> str:
    words = []
    for key, text in LIMIT_WORDS:
        if key in schema and schema[key] is not None:
            words.append(str(text) % {"value": schema[key]})
    return ", ".join(words)


@operation(
    "GET",
    "/docs",
    summary="This reference, as a web page",
    tag=TAG,
    responses={200: {"text/html": {"type": "string"}}},
    public=True,
)
def reference_page():
    return render_template(
        "api/reference.html", doc=api_document(), label=_schema_label, limits=_limits
    )


def _unknown_path(rest: str = ""):
    """Anything else under /api/v1: a JSON 404 (or 405 when only the method is wrong)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "api.unknown_path":
            allowed.append(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise NotFound("There is no such API endpoint; see /api/v1/docs.")


_unknown_path.public = True
bp.add_url_rule("/", "unknown_path", _unknown_path, defaults={"rest": ""}, methods=METHODS)
bp.add_url_rule("/<path:rest>", "unknown_path", _unknown_path, methods=METHODS)
