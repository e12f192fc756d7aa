"""Contract tests generated from the OpenAPI document: schemathesis sends generated requests
(valid and invalid) to every operation of the running app and checks that nothing answers 500
and that every answer matches the document."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from helpdesk.accounts.actor import Actor
from helpdesk.contacts.services import upsert_contact, upsert_organization
from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.validation import Upload
from tests.api.conftest import live_server, token_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 6, schemathesis.GenerationMode.NEGATIVE: 3}


def _seed(make):
    """Something for each operation to find: tickets with messages and a file, contacts."""
    agent = make.agent(all_teams=True)
    customer = make.customer()
    actor = Actor.for_user(agent)
    for n in range(3):
        ticket = make.ticket(requester=customer, subject=f"Seeded {n}")
        services.add_note(
            ticket, actor, body="A note", uploads=[Upload("n.txt", "text/plain", b"n")]
        )
        services.tag(ticket, actor, add=["seed"])
    upsert_organization(actor, "ORG-1", {"name": "Seed Org", "crm": "api"})
    upsert_contact(actor, "1", {"name": "Seed Contact", "crm": "api", "emails": ["s@example.test"]})
    db.session.commit()
    return agent


def test_every_operation_answers_as_the_document_says(app, make):
    agent = _seed(make)
    headers = {"Authorization": f"Bearer {token_for(agent)}"}
    failures = []
    with live_server(app) as base:
        schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 20
        for operation in operations:
            for mode, examples in EXAMPLES.items():

                @settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case):
                    case.call_and_validate(
                        base_url=f"{base}/api/v1", headers=headers, checks=CHECKS, timeout=10
                    )

                try:
                    call()
                except Unsatisfiable:
                    pass  # no invalid request exists for an operation without inputs
                except Exception as exc:  # collected: one report for every operation
                    failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_document_is_what_schemathesis_loads(client):
    document = client.get("/api/v1/openapi.json").get_json()

    schema = schemathesis.openapi.from_dict(document)

    labels = {result.ok().label for result in schema.get_all_operations()}
    assert "PATCH /tickets/{number}" in labels and "PUT /contacts/{id}" in labels
