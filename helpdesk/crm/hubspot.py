"""HubSpot through a private app's token (sent as a Bearer token).

Contacts are found with the CRM search API, their company through the v4 associations
(the "Primary" one first), notes are created with an association to the contact (type 202,
note to contact). HubSpot answers 429 with Retry-After when a limit is hit and tells the
calls left in each window in X-HubSpot-RateLimit-* headers; the HTTP client honours both.
"""

import base64
import hashlib
import hmac
import html
import time
from datetime import UTC, datetime

from helpdesk.crm.http import HttpClient
from helpdesk.crm.notes import has_marker
from helpdesk.crm.protocol import CrmCompany, CrmContact, CrmError, NoteResult

API = "https://api.hubapi.com"
CONTACT_PROPERTIES = [
    "email",
    "hs_additional_emails",
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "jobtitle",
    "hubspot_owner_id",
]
COMPANY_PROPERTIES = ["name", "domain", "hs_additional_domains", "phone", "hubspot_owner_id"]
NOTE_TO_CONTACT = 202  # HubSpot-defined association type id
PRIMARY_COMPANY = 1  # contact to company, the "Primary" label
PAGE = 100
MAX_PAGES = 5
SIGNATURE_MAX_AGE = 300  # seconds a signed webhook stays acceptable


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(";") if v.strip())


def _when(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds; naive times are UTC already (helpdesk.timeutil)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def note_html(text: str) -> str:
    """HubSpot shows note bodies as HTML: escape the text and keep its line breaks."""
    return "<br>".join(html.escape(line) for line in text.split("\n"))


class HubSpotAdapter:
    kind = "hubspot"

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        web_url: str | None = None,
        webhook_secret: str | None = None,
        **http,
    ):
        # Where the account's records are shown: https://app.hubspot.com/contacts/<portal id>
        self.web_url = web_url.rstrip("/") if web_url else None
        self.webhook_secret = webhook_secret
        self.http = HttpClient(
            base_url or API,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            secrets=(token,),
            **http,
        )

    def _search(self, object_type: str, filter_groups: list, properties: list) -> list[dict]:
        """Every result of a CRM search, following the `after` cursor (a few pages at most)."""
        results, after = [], None
        for _ in range(MAX_PAGES):
            body = {"filterGroups": filter_groups, "properties": properties, "limit": PAGE}
            if after:
                body["after"] = after
            answer = self.http.request(
                "POST", f"/crm/v3/objects/{object_type}/search", json_body=body
            )
            results.extend(self._results(answer))
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return results

    @staticmethod
    def _results(answer) -> list[dict]:
        if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
            raise CrmError("HubSpot: unexpected answer (no results)")
        return answer["results"]

    def _object(self, object_type: str, external_id: str, properties: list) -> dict | None:
        try:
            answer = self.http.request(
                "GET",
                f"/crm/v3/objects/{object_type}/{external_id}",
                params={"properties": ",".join(properties)},
            )
        except CrmError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(answer, dict) or "id" not in answer:
            raise CrmError(f"HubSpot: unexpected answer for {object_type} {external_id}")
        return answer

    def _owner(self, owner_id: str | None) -> str | None:
        if not owner_id:
            return None
        try:
            owner = self.http.request("GET", f"/crm/v3/owners/{owner_id}")
        except CrmError:  # the token may lack the owners scope: the id still says who
            return f"owner #{owner_id}"
        name = " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p)
        return name or owner.get("email") or f"owner #{owner_id}"

    def _contact(self, raw: dict, company_id: str | None = None) -> CrmContact:
        props = raw.get("properties") or {}
        emails = _split(props.get("email")) + _split(props.get("hs_additional_emails"))
        phones = tuple(p for p in (props.get("phone"), props.get("mobilephone")) if p)
        name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p)
        return CrmContact(
            external_id=str(raw["id"]),
            name=name or (emails[0] if emails else f"#{raw['id']}"),
            emails=emails,
            phones=phones,
            company_id=company_id,
            owner=self._owner(props.get("hubspot_owner_id")),
            url=self.record_url("contact", str(raw["id"])),
            details={k: v for k, v in {"position": props.get("jobtitle")}.items() if v},
        )

    def _company(self, raw: dict) -> CrmCompany:
        props = raw.get("properties") or {}
        return CrmCompany(
            external_id=str(raw["id"]),
            name=props.get("name") or f"#{raw['id']}",
            domains=_split(props.get("domain")) + _split(props.get("hs_additional_domains")),
            phones=tuple(p for p in (props.get("phone"),) if p),
            owner=self._owner(props.get("hubspot_owner_id")),
            url=self.record_url("organization", str(raw["id"])),
        )

    def primary_company_id(self, contact_id: str) -> str | None:
        """The contact's company: the one labelled Primary, else the first associated."""
        first, after = None, None
        for _ in range(MAX_PAGES):
            params = {"limit": PAGE} | ({"after": after} if after else {})
            answer = self.http.request(
                "GET",
                f"/crm/v4/objects/contacts/{contact_id}/associations/companies",
                params=params,
            )
            for row in self._results(answer):
                company = str(row["toObjectId"])
                types = row.get("associationTypes") or []
                if any(t.get("typeId") == PRIMARY_COMPANY for t in types):
                    return company
                first = first or company
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return first

    def find_contacts(self, *, email: str | None = None, phone: str | None = None):
        if email:
            groups = [
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]},
                {
                    "filters": [
                        {
                            "propertyName": "hs_additional_emails",
                            "operator": "CONTAINS_TOKEN",
                            "value": email,
                        }
                    ]
                },
            ]
        else:
            groups = [
                {"filters": [{"propertyName": name, "operator": "EQ", "value": phone}]}
                for name in ("phone", "mobilephone")
            ]
        found = self._search("contacts", groups, CONTACT_PROPERTIES)
        return [self._contact(raw, self.primary_company_id(str(raw["id"]))) for raw in found]

    def get_contact(self, external_id: str) -> CrmContact | None:
        raw = self._object("contacts", external_id, CONTACT_PROPERTIES)
        if raw is None:
            return None
        return self._contact(raw, self.primary_company_id(external_id))

    def get_company(self, external_id: str) -> CrmCompany | None:
        raw = self._object("companies", external_id, COMPANY_PROPERTIES)
        return self._company(raw) if raw else None

    def find_companies(self, *, domain: str | None = None, tax_id: str | None = None):
        if not domain:
            return []  # HubSpot has no standard tax id property
        groups = [{"filters": [{"propertyName": "domain", "operator": "EQ", "value": domain}]}]
        return [self._company(raw) for raw in self._search("companies", groups, COMPANY_PROPERTIES)]

    def add_note(self, contact_id: str, text: str, *, key: str, when: datetime) -> NoteResult:
        body = {
            "properties": {"hs_timestamp": _when(when), "hs_note_body": note_html(text)},
            "associations": [
                {
                    "to": {"id": contact_id},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": NOTE_TO_CONTACT,
                        }
                    ],
                }
            ],
        }
        answer = self.http.request(
            "POST", "/crm/v3/objects/notes", json_body=body, idempotent=False
        )
        if not isinstance(answer, dict) or not answer.get("id"):
            raise CrmError("HubSpot gave no note id", maybe_delivered=True)
        return NoteResult(str(answer["id"]))

    def find_note(self, contact_id: str, key: str) -> str | None:
        groups = [
            {
                "filters": [
                    {"propertyName": "hs_note_body", "operator": "CONTAINS_TOKEN", "value": key}
                ]
            }
        ]
        for raw in self._search("notes", groups, ["hs_note_body"]):
            if has_marker((raw.get("properties") or {}).get("hs_note_body"), key):
                return str(raw["id"])
        return None

    def record_url(self, subject: str, external_id: str) -> str | None:
        if not self.web_url:
            return None  # known after the first health check
        object_type = "0-1" if subject == "contact" else "0-2"
        return f"{self.web_url}/record/{object_type}/{external_id}"

    def verify_webhook(self, method: str, url: str, headers, body: bytes) -> bool:
        """Signature v3: base64 HMAC-SHA256 of method, URL, body and timestamp, made with the
        app's client secret; refused when older than five minutes (a replay)."""
        signature = headers.get("X-HubSpot-Signature-v3")
        stamp = headers.get("X-HubSpot-Request-Timestamp")
        if not (self.webhook_secret and signature and stamp and stamp.isdigit()):
            return False
        if abs(time.time() * 1000 - int(stamp)) > SIGNATURE_MAX_AGE * 1000:
            return False
        source = method.encode() + url.encode() + body + stamp.encode()
        digest = hmac.new(self.webhook_secret.encode(), source, hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(digest).decode(), signature)

    def health_check(self) -> str:
        details = self.http.request("GET", "/account-info/v3/details")
        if not isinstance(details, dict) or "portalId" not in details:
            raise CrmError("HubSpot: unexpected answer from account-info")
        ui_domain = details.get("uiDomain") or "app.hubspot.com"
        self.web_url = f"https://{ui_domain}/contacts/{details['portalId']}"
        return f"HubSpot account {details['portalId']}"
