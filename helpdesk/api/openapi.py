"""The OpenAPI 3.1 document, assembled from the registered operations and their pydantic
models: the schemas that validate requests are the ones published. Nothing is written by hand."""

import re
from dataclasses import dataclass, field
from http import HTTPStatus

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from helpdesk.api.schemas.common import Error

REF = "#/components/schemas/{model}"
BINARY = "binary"  # a response that is a file, not JSON

ERROR_TEXT = {
    400: "The request is malformed (for example, broken JSON).",
    401: "No valid token in `Authorization: Bearer …`.",
    403: "The token's user may see this but not do it.",
    404: "Not found, or not visible to this token's user.",
    409: "Conflicts with the current state (a status rule, a duplicate, a concurrent change).",
    412: "`If-Match` no longer matches the ticket's ETag: someone changed it meanwhile.",
    413: "The request or one of its files is too large.",
    405: "This URL does not take that method; `Allow` lists those it does.",
    415: "Send `application/json` (or `multipart/form-data` where files are accepted).",
    422: "The input is invalid; `fields` says which and why.",
    429: "Too many requests for this token; wait for `Retry-After` seconds.",
}


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    max_length: int = 255


IDEMPOTENCY_KEY = Header(
    "Idempotency-Key",
    "Any unique string. A retry with the same key and body returns the first answer instead "
    "of acting twice; the same key with a different body is refused (422).",
)
IF_MATCH = Header(
    "If-Match", "The ETag from a previous read; when the ticket changed since, the answer is 412."
)


@dataclass
class Operation:
    method: str
    rule: str  # the Flask rule under /api/v1
    endpoint: str
    summary: str
    tag: str
    description: str = ""
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    multipart: bool = False
    # status -> a model, None (no body), BINARY, or {media type: schema}
    responses: dict[int, object] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)  # on the success answer
    errors: tuple[int, ...] = ()
    public: bool = False
    headers: tuple[Header, ...] = ()
    path_docs: dict[str, str] = field(default_factory=dict)  # path variable -> description

    @property
    def path(self) -> str:
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.rule)

    def path_params(self) -> list[tuple[str, str]]:
        """(name, converter) of each path variable."""
        return [(m[1], m[0] or "default") for m in re.findall(r"<(?:(\w+):)?(\w+)>", self.rule)]

    def error_statuses(self) -> list[int]:
        statuses = set(self.errors)
        if not self.public:
            statuses |= {401, 429}
        if self.path_params():
            statuses.add(404)
        if self.query is not None or self.body is not None or IDEMPOTENCY_KEY in self.headers:
            statuses.add(422)
        if self.body is not None:
            statuses |= {400, 413, 415}
        return sorted(statuses)


OPERATIONS: list[Operation] = []
# Path-variable schemas, by converter name (see helpdesk.api.converters).
PATH_SCHEMAS: dict[str, dict] = {"default": {"type": "string"}}
# Models documented without an operation of their own (the webhook body).
EXTRA_MODELS: list[type[BaseModel]] = []


def _model_inputs() -> list[tuple[type[BaseModel], str]]:
    inputs: dict[tuple[type[BaseModel], str], None] = {(Error, "serialization"): None}
    for op in OPERATIONS:
        for model in (op.query, op.body):
            if model is not None:
                inputs[(model, "validation")] = None
        for model in op.responses.values():
            if isinstance(model, type):
                inputs[(model, "serialization")] = None
    for model in EXTRA_MODELS:
        inputs[(model, "serialization")] = None
    return list(inputs)


def _query_parameters(schema: dict) -> list[dict]:
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        param = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            param["description"] = prop.pop("description")
        prop.pop("title", None)
        param["schema"] = prop
        if is_array(prop):
            param["style"], param["explode"] = "form", True
        params.append(param)
    return params


def is_array(schema: dict) -> bool:
    """Whether a property takes a list (possibly nullable)."""
    return schema.get("type") == "array" or any(
        option.get("type") == "array" for option in schema.get("anyOf", ())
    )


def _multipart_schema(body_schema: dict) -> dict:
    schema = {k: v for k, v in body_schema.items() if k != "title"}
    schema["properties"] = {
        **body_schema["properties"],
        "attachments": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "Files to attach (repeat the field for several).",
        },
    }
    return schema


def _success(op: Operation, status: int, model, refs) -> dict:
    answer: dict = {"description": HTTPStatus(status).phrase}
    if model is BINARY:
        answer["content"] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    elif isinstance(model, dict):  # media type -> schema, for answers that are not models
        answer["content"] = {media: {"schema": schema} for media, schema in model.items()}
    elif model is not None:
        answer["content"] = {"application/json": {"schema": refs[(model, "serialization")]}}
    if op.response_headers:
        answer["headers"] = {
            name: {"description": text, "required": True, "schema": {"type": "string"}}
            for name, text in op.response_headers.items()
        }
    return answer


def _error(status: int) -> dict:
    answer = {
        "description": ERROR_TEXT.get(status, "Error."),
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }
    if status == 429:
        answer["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}
        }
    return answer


def _operation(op: Operation, refs, defs) -> dict:
    doc: dict = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": PATH_SCHEMAS[converter],
                **({"description": op.path_docs[name]} if name in op.path_docs else {}),
            }
            for name, converter in op.path_params()
        ],
        "security": [] if op.public else [{"bearerAuth": []}],
        "responses": {},
    }
    if op.description:
        doc["description"] = op.description
    if op.query is not None:
        doc["parameters"] += _query_parameters(defs[op.query.__name__])
    for header in op.headers:
        doc["parameters"].append(
            {
                "name": header.name,
                "in": "header",
                "required": False,
                "description": header.description,
                "schema": {"type": "string", "minLength": 1, "maxLength": header.max_length},
            }
        )
    if op.body is not None:
        content = {"application/json": {"schema": refs[(op.body, "validation")]}}
        if op.multipart:
            content["multipart/form-data"] = {"schema": _multipart_schema(defs[op.body.__name__])}
        doc["requestBody"] = {"required": True, "content": content}
    for status, model in op.responses.items():
        doc["responses"][str(status)] = _success(op, status, model, refs)
    for status in op.error_statuses():
        doc["responses"][str(status)] = _error(status)
    return doc


def _webhooks() -> dict:
    from helpdesk.webhooks import EVENTS

    hooks = {}
    for event in EVENTS:
        hooks[event] = {
            "post": {
                "summary": f"Sent when {event} happens",
                "parameters": [
                    {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
                    for name in (
                        "X-Helpdesk-Event",
                        "X-Helpdesk-Delivery",
                        "X-Helpdesk-Timestamp",
                        "X-Helpdesk-Signature",
                    )
                ],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="WebhookPayload")}}
                    }
                },
                "responses": {"2XX": {"description": "Any 2xx answer counts as delivered."}},
            }
        }
    return hooks


def document(title: str = "Helpdesk API") -> dict:
    """The whole OpenAPI 3.1 document."""
    refs, top = models_json_schema(_model_inputs(), ref_template=REF)
    defs = top.get("$defs", {})
    paths: dict[str, dict] = {}
    for op in sorted(OPERATIONS, key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, defs)
    for item in paths.values():
        # A URL that one method takes as its input answers 405 to the others.
        if len(item) > 1:
            for doc in item.values():
                doc["responses"]["405"] = _error(405)
                doc["responses"] = dict(sorted(doc["responses"].items()))
    query_models = {op.query.__name__ for op in OPERATIONS if op.query is not None}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1",
            "description": "Tickets, messages, contacts and webhooks. Authenticate with "
            "`Authorization: Bearer <token>`; a token acts with its user's role and sees what "
            'that user sees. Errors are `{"error": {"code", "message", "fields"}}`.',
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "webhooks": _webhooks(),
        "components": {
            "schemas": {name: s for name, s in defs.items() if name not in query_models},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
