"""Bitrix24 through an incoming webhook: `https://<portal>/rest/<user_id>/<secret>/<method>.json`.

The whole webhook URL is the credential, so it is stored encrypted and never logged; links
out use the portal's root only. Bitrix24 answers `{"result": …, "time": …}` (lists add
`next` and `total`), and errors as `{"error": CODE, "error_description": …}`. Too many
requests give HTTP 503 QUERY_LIMIT_EXCEEDED (wait and repeat); a method that used up its
operating time gives 429 OPERATION_TIME_LIMIT (the outbox retries much later).
"""

import hmac
import re
from dataclasses import replace
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import requests

from helpdesk.crm import notes
from helpdesk.crm.http import HttpClient
from helpdesk.crm.protocol import CrmCompany, CrmContact, CrmError, NoteResult

WEBHOOK = re.compile(r"^(https?://[^/\s]+)/rest/(\d+)/([A-Za-z0-9_]+)/?$")
PAGE = 50  # Bitrix24's page size for list methods
FIND_LIMIT = 10  # candidates fetched per search: more than one is already ambiguous
COMPANY_ENTITY_TYPE = 4  # crm.requisite ENTITY_TYPE_ID of a company


def parse_webhook(url: str) -> tuple[str, str]:
    """(portal root, secret) of an incoming webhook URL; raises ValueError if it is none."""
    found = WEBHOOK.match((url or "").strip())
    if not found:
        raise ValueError("Give the incoming webhook URL: https://<portal>/rest/<user id>/<secret>/")
    return found.group(1), found.group(3)


def _slow_down(response: requests.Response) -> float | None:
    """Seconds to wait when the body says the portal is busy (it sends no Retry-After)."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    if code == "QUERY_LIMIT_EXCEEDED":
        return 1.0  # the bucket drains two requests a second
    if code == "OPERATION_TIME_LIMIT":
        return 600.0  # the method's time budget comes back over ten minutes
    return None


def _values(items) -> tuple[str, ...]:
    """The VALUEs of a multi-field (EMAIL, PHONE, WEB): `[{"VALUE": …, "VALUE_TYPE": …}]`."""
    if not isinstance(items, list):
        return ()
    return tuple(str(i["VALUE"]).strip() for i in items if isinstance(i, dict) and i.get("VALUE"))


def _id(value) -> str | None:
    """An id field; Bitrix24 writes "0" (or nothing) for none."""
    return str(value) if value not in (None, "", "0", 0) else None


def _domain(web: str) -> str:
    host = urlsplit(web if "//" in web else f"//{web}").hostname or ""
    return host.removeprefix("www.")


class Bitrix24Adapter:
    kind = "bitrix24"

    def __init__(self, webhook_url: str, *, webhook_secret: str | None = None, **http):
        self.portal, secret = parse_webhook(webhook_url)
        self.webhook_secret = webhook_secret
        self.http = HttpClient(
            webhook_url.strip().rstrip("/") + "/",
            secrets=(secret, webhook_url.strip()),
            rate_limited=_slow_down,
            **http,
        )

    def call(self, method: str, params: dict | None = None, *, idempotent: bool = True):
        """The whole answer of one REST method (`result`, `next`, `total`)."""
        answer = self.http.request(
            "POST", f"{method}.json", json_body=params or {}, idempotent=idempotent
        )
        if not isinstance(answer, dict) or "result" not in answer:
            raise CrmError(f"Bitrix24 {method}: unexpected answer")
        return answer

    def _get(self, method: str, external_id: str) -> dict | None:
        try:
            result = self.call(method, {"id": external_id})["result"]
        except CrmError as exc:
            if exc.status in (400, 404) and "not found" in exc.message.lower():
                return None
            raise
        return result if isinstance(result, dict) else None

    def _owner(self, user_id) -> str | None:
        user_id = _id(user_id)
        if user_id is None:
            return None
        try:
            users = self.call("user.get", {"ID": str(user_id)})["result"]
        except CrmError:  # the webhook may lack the "user" scope: the id still says who
            return f"user #{user_id}"
        if isinstance(users, list) and users:
            name = " ".join(p for p in (users[0].get("NAME"), users[0].get("LAST_NAME")) if p)
            return name or f"user #{user_id}"
        return f"user #{user_id}"

    def _contact(self, raw: dict) -> CrmContact:
        names = (raw.get("NAME"), raw.get("SECOND_NAME"), raw.get("LAST_NAME"))
        external_id = str(raw["ID"])
        return CrmContact(
            external_id=external_id,
            name=" ".join(p for p in names if p) or f"#{external_id}",
            emails=_values(raw.get("EMAIL")),
            phones=_values(raw.get("PHONE")),
            company_id=_id(raw.get("COMPANY_ID")),
            owner=self._owner(raw.get("ASSIGNED_BY_ID")),
            url=self.record_url("contact", external_id),
            details={k: v for k, v in {"position": raw.get("POST")}.items() if v},
        )

    def _company(self, raw: dict) -> CrmCompany:
        external_id = str(raw["ID"])
        return CrmCompany(
            external_id=external_id,
            name=raw.get("TITLE") or f"#{external_id}",
            domains=tuple(d for d in (_domain(w) for w in _values(raw.get("WEB"))) if d),
            phones=_values(raw.get("PHONE")),
            owner=self._owner(raw.get("ASSIGNED_BY_ID")),
            url=self.record_url("organization", external_id),
            details={k: v for k, v in {"industry": raw.get("INDUSTRY")}.items() if v},
        )

    def find_contacts(self, *, email: str | None = None, phone: str | None = None):
        kind, value = ("EMAIL", email) if email else ("PHONE", phone)
        result = self.call(
            "crm.duplicate.findbycomm",
            {"entity_type": "CONTACT", "type": kind, "values": [value]},
        )["result"]
        # Nothing found comes back as an empty list, something as {"CONTACT": [ids]}.
        ids = result.get("CONTACT", []) if isinstance(result, dict) else []
        found = (self.get_contact(str(i)) for i in ids[:FIND_LIMIT])
        return [c for c in found if c is not None]

    def get_contact(self, external_id: str) -> CrmContact | None:
        raw = self._get("crm.contact.get", external_id)
        return self._contact(raw) if raw else None

    def get_company(self, external_id: str) -> CrmCompany | None:
        raw = self._get("crm.company.get", external_id)
        return self._company(raw) if raw else None

    def find_companies(self, *, domain: str | None = None, tax_id: str | None = None):
        if not tax_id:
            return []  # Bitrix24 cannot search companies by web domain
        rows = self.call(
            "crm.requisite.list",
            {
                "filter": {"RQ_INN": tax_id, "ENTITY_TYPE_ID": COMPANY_ENTITY_TYPE},
                "select": ["ENTITY_ID", "RQ_INN"],
            },
        )["result"]
        companies = []
        for row in (rows or [])[:FIND_LIMIT]:
            company = self.get_company(str(row["ENTITY_ID"]))
            if company is not None:
                companies.append(replace(company, tax_id=row.get("RQ_INN")))
        return companies

    def add_note(self, contact_id: str, text: str, *, key: str, when: datetime) -> NoteResult:
        result = self.call(
            "crm.timeline.comment.add",
            {"fields": {"ENTITY_ID": int(contact_id), "ENTITY_TYPE": "contact", "COMMENT": text}},
            idempotent=False,
        )["result"]
        if not isinstance(result, int | str) or not str(result).isdigit():
            # It was created, but we cannot tell which it is: the next try looks for it.
            raise CrmError("Bitrix24 gave no comment id", maybe_delivered=True)
        return NoteResult(str(result))

    def find_note(self, contact_id: str, key: str) -> str | None:
        start = 0
        for _ in range(notes.LOOKUP_PAGES):
            answer = self.call(
                "crm.timeline.comment.list",
                {
                    "filter": {"ENTITY_ID": int(contact_id), "ENTITY_TYPE": "contact"},
                    "select": ["ID", "COMMENT"],
                    "start": start,
                },
            )
            for comment in answer["result"] or []:
                if notes.has_marker(comment.get("COMMENT"), key):
                    return str(comment["ID"])
            if "next" not in answer:
                return None
            start = answer["next"]
        return None

    def record_url(self, subject: str, external_id: str) -> str:
        entity = "contact" if subject == "contact" else "company"
        return f"{self.portal}/crm/{entity}/details/{external_id}/"

    def verify_webhook(self, method: str, url: str, headers, body: bytes) -> bool:
        """Bitrix24 outbound webhooks post `auth[application_token]`, set when they are made."""
        if not self.webhook_secret:
            return False
        form = parse_qs(body.decode("utf-8", "replace"))
        token = (form.get("auth[application_token]") or [""])[0]
        return bool(token) and hmac.compare_digest(token, self.webhook_secret)

    def health_check(self) -> str:
        self.call("crm.contact.fields")
        return f"Bitrix24 portal {self.portal}"
