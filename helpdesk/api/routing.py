"""`operation`: declare an API view once — path, models, answers — and get both the route and
its entry in the OpenAPI document. Input is validated with the declared models before the
view runs; the request's transaction is committed after it returns."""

import functools
import hashlib
from collections.abc import Callable

from flask import Response, current_app, request
from pydantic import BaseModel
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from helpdesk.api import bp, idempotency
from helpdesk.api.auth import api_user
from helpdesk.api.errors import ApiError
from helpdesk.api.openapi import IDEMPOTENCY_KEY, OPERATIONS, Header, Operation, is_array
from helpdesk.extensions import db
from helpdesk.validation import ATTACHMENTS_PER_MESSAGE_MAX, Upload

JSON_MAX_BYTES = 4 * 1024 * 1024
FORM_FIELDS_MAX_BYTES = 4 * 1024 * 1024


@functools.cache
def _array_fields(model: type[BaseModel]) -> set[str]:
    properties = model.model_json_schema()["properties"]
    return {name for name, prop in properties.items() if is_array(prop)}


def _collect(source, model: type[BaseModel]) -> dict:
    """Form or query values as a dict; list fields take every value given."""
    arrays = _array_fields(model)
    data = {}
    for name in source:
        data[name] = source.getlist(name) if name in arrays else source.get(name)
    return data


def parse_query(model: type[BaseModel]) -> BaseModel:
    return model.model_validate(_collect(request.args, model))


def _max_file_bytes() -> int:
    return current_app.config["HELPDESK_MAX_ATTACHMENT_MB"] * 1024 * 1024


def _uploads() -> list[Upload]:
    limit = _max_file_bytes()
    files = request.files.getlist("attachments")
    if len(files) > ATTACHMENTS_PER_MESSAGE_MAX:
        raise ApiError(
            422,
            f"At most {ATTACHMENTS_PER_MESSAGE_MAX} files per message.",
            {"attachments": "Too many files."},
        )
    uploads = []
    for item in files:
        data = item.read(limit + 1)
        if len(data) > limit:
            raise ApiError(
                413,
                f"“{item.filename}” is larger than {limit // 1048576} MB.",
                {"attachments": f"At most {limit // 1048576} MB per file."},
            )
        uploads.append(Upload(item.filename or "attachment", item.mimetype or "", data))
    return uploads


def parse_body(model: type[BaseModel], multipart: bool) -> tuple[BaseModel, list[Upload]]:
    """The validated body, and any uploaded files. Raises 400, 413, 415 or 422."""
    mimetype = request.mimetype
    if multipart and mimetype == "multipart/form-data":
        request.max_content_length = ATTACHMENTS_PER_MESSAGE_MAX * _max_file_bytes() + (1 << 20)
        request.max_form_memory_size = FORM_FIELDS_MAX_BYTES
        uploads = _uploads()
        return model.model_validate(_collect(request.form, model)), uploads
    if mimetype != "application/json":
        accepted = "application/json" + (" or multipart/form-data" if multipart else "")
        raise UnsupportedMediaType(f"Send the body as {accepted}.")
    if (request.content_length or 0) > JSON_MAX_BYTES:
        raise RequestEntityTooLarge(f"A JSON body may have at most {JSON_MAX_BYTES >> 20} MB.")
    request.max_content_length = JSON_MAX_BYTES
    return model.model_validate(request.get_json()), []


def to_response(result) -> Response:
    """A view returns a Response, a model, HTML text, or (any of these, status[, headers])."""
    if isinstance(result, Response):
        return result
    status, headers = 200, {}
    if isinstance(result, tuple):
        result, status, *rest = result
        headers = rest[0] if rest else {}
    if result is None:
        return Response(status=status, headers=headers)
    if isinstance(result, str):
        return Response(result, status, headers, mimetype="text/html")
    return Response(result.model_dump_json(), status, headers, mimetype="application/json")


def _fingerprint(body: BaseModel | None, uploads: list[Upload]) -> str:
    return idempotency.fingerprint(
        {
            "body": body.model_dump(mode="json") if body is not None else None,
            "files": [
                (u.filename, u.content_type, hashlib.sha256(u.data).hexdigest()) for u in uploads
            ],
        }
    )


def operation(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    responses: dict,
    description: str = "",
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    multipart: bool = False,
    errors: tuple[int, ...] = (),
    public: bool = False,
    headers: tuple[Header, ...] = (),
    response_headers: dict[str, str] | None = None,
    path_docs: dict[str, str] | None = None,
) -> Callable:
    """Register `view` at `rule` (under /api/v1) and describe it in the OpenAPI document."""
    idempotent = method == "POST" and not public
    if idempotent:
        headers = (*headers, IDEMPOTENCY_KEY)

    def register(view: Callable) -> Callable:
        OPERATIONS.append(
            Operation(
                method=method,
                rule=rule,
                endpoint=view.__name__,
                summary=summary,
                tag=tag,
                description=description or (view.__doc__ or "").strip(),
                query=query,
                body=body,
                multipart=multipart,
                responses=responses,
                response_headers=response_headers or {},
                errors=errors,
                public=public,
                headers=headers,
                path_docs=path_docs or {},
            )
        )

        @functools.wraps(view)
        def handle(**path_args):
            kwargs = dict(path_args)
            if query is not None:
                kwargs["query"] = parse_query(query)
            uploads: list[Upload] = []
            if body is not None:
                kwargs["body"], uploads = parse_body(body, multipart)
                if multipart:
                    kwargs["uploads"] = uploads
            key = request.headers.get(IDEMPOTENCY_KEY.name)
            if idempotent and key is not None:
                response = idempotency.run(
                    api_user().id,
                    key,
                    method,
                    request.path,
                    _fingerprint(kwargs.get("body"), uploads),
                    lambda: to_response(view(**kwargs)),
                )
            else:
                response = to_response(view(**kwargs))
            db.session.commit()
            return response

        handle.public = public
        bp.add_url_rule(rule, view.__name__, handle, methods=[method])
        return view

    return register
