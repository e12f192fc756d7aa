"""A small stateful HubSpot on a real local HTTP server: it answers the calls the adapter
makes with HubSpot's documented shapes, keeps the notes it is sent, and can be taken down or
made to lose its answers."""

import json
import re
import threading
from collections import Counter

from werkzeug import Request, Response

from tests.crm.payloads import hubspot_associations, hubspot_object, hubspot_page


class FakeHubSpot:
    def __init__(self, server, token: str):
        self.token = token
        self.contacts: dict[str, dict] = {}
        self.companies: dict[str, dict] = {}
        self.company_of: dict[str, str] = {}
        self.notes: dict[str, dict] = {}  # id → {"body", "contact"}
        self.down = False  # every call answers 503
        self.lose_answers = 0  # note writes that succeed but answer too late
        self.release = threading.Event()
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._next_id = 5000
        server.expect_request(re.compile(r"^/(crm|account-info)/.*")).respond_with_handler(
            self.handle
        )

    def add_contact(self, contact_id: str, email: str, name: str, company_id=None, **props):
        first, _, last = name.partition(" ")
        self.contacts[contact_id] = hubspot_object(
            contact_id, {"email": email, "firstname": first, "lastname": last} | props
        )
        if company_id:
            self.company_of[contact_id] = company_id

    def add_company(self, company_id: str, name: str, domain: str):
        self.companies[company_id] = hubspot_object(company_id, {"name": name, "domain": domain})

    def created_per_marker(self) -> Counter:
        markers = (re.search(r"hd[0-9a-f]{24}", n["body"]).group(0) for n in self.notes.values())
        return Counter(markers)

    def _json(self, payload, status=200) -> Response:
        return Response(json.dumps(payload), status=status, content_type="application/json")

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append((request.method, request.path))
            if self.down:
                return Response("upstream unavailable", status=503)
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return self._json({"status": "error", "category": "INVALID_AUTHENTICATION"}, 401)
            answer, late = self._route(request)
        if late:
            self.release.wait(10)  # the note exists; the answer arrives after the timeout
        return answer

    def _route(self, request: Request) -> tuple[Response, bool]:
        path, method = request.path, request.method
        body = request.get_json(silent=True) or {}
        if path == "/account-info/v3/details":
            return self._json({"portalId": 4711, "uiDomain": "app.hubspot.com"}), False
        if path == "/crm/v3/objects/contacts/search":
            wanted = {f["value"] for g in body["filterGroups"] for f in g["filters"]}
            hits = [c for c in self.contacts.values() if c["properties"].get("email") in wanted]
            return self._json(hubspot_page(hits)), False
        if path == "/crm/v3/objects/companies/search":
            wanted = {f["value"] for g in body["filterGroups"] for f in g["filters"]}
            hits = [c for c in self.companies.values() if c["properties"]["domain"] in wanted]
            return self._json(hubspot_page(hits)), False
        found = re.fullmatch(r"/crm/v4/objects/contacts/(\w+)/associations/companies", path)
        if found:
            company = self.company_of.get(found.group(1))
            return self._json(hubspot_associations(*([company] if company else []))), False
        found = re.fullmatch(r"/crm/v3/objects/(contacts|companies)/(\w+)", path)
        if found and method == "GET":
            store = self.contacts if found.group(1) == "contacts" else self.companies
            record = store.get(found.group(2))
            if record is None:
                return self._json({"status": "error", "category": "OBJECT_NOT_FOUND"}, 404), False
            return self._json(record), False
        if path == "/crm/v3/objects/notes" and method == "POST":
            self._next_id += 1
            note_id = str(self._next_id)
            contact = body["associations"][0]["to"]["id"]
            self.notes[note_id] = {"body": body["properties"]["hs_note_body"], "contact": contact}
            late = self.lose_answers > 0
            self.lose_answers -= 1 if late else 0
            return self._json(hubspot_object(note_id, body["properties"]), 201), late
        if path == "/crm/v3/objects/notes/search":
            marker = body["filterGroups"][0]["filters"][0]["value"]
            hits = [
                hubspot_object(i, {"hs_note_body": n["body"]})
                for i, n in self.notes.items()
                if marker in n["body"]
            ]
            return self._json(hubspot_page(hits)), False
        return self._json({"status": "error", "message": f"no route {method} {path}"}, 404), False
