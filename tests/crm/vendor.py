"""HubSpot's official client models as the judge of our fixtures and requests."""

import json
from types import SimpleNamespace

import hubspot.crm.associations.v4 as associations
import hubspot.crm.companies as companies
import hubspot.crm.contacts as contacts
import hubspot.crm.objects.notes as notes
import hubspot.crm.owners as owners

PACKAGES = {
    "contacts": contacts,
    "companies": companies,
    "notes": notes,
    "associations": associations,
    "owners": owners,
}


def _client(package: str):
    module = PACKAGES[package]
    configuration = module.Configuration()
    configuration.client_side_validation = True  # required fields and enums are checked
    return module.ApiClient(configuration=configuration)


def model(package: str, type_name: str, payload):
    """Deserialize JSON as HubSpot's client does; raises ValueError on a schema mismatch."""
    return _client(package).deserialize(SimpleNamespace(data=json.dumps(payload)), type_name)


def same_as_model(package: str, type_name: str, payload) -> bool:
    """The payload survives the vendor model unchanged: every key is one it knows."""
    client = _client(package)
    return client.sanitize_for_serialization(model(package, type_name, payload)) == payload
