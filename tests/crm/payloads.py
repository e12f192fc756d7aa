"""Answers shaped as the vendors document them (Bitrix24 REST, HubSpot CRM v3/v4)."""

BITRIX_TIME = {
    "start": 1764230400.1,
    "finish": 1764230400.2,
    "duration": 0.1,
    "processing": 0.05,
    "date_start": "2026-11-27T10:00:00+03:00",
    "date_finish": "2026-11-27T10:00:00+03:00",
    "operating_reset_at": 1764231000,
    "operating": 0,
}


def bitrix(result, **extra) -> dict:
    return {"result": result, "time": BITRIX_TIME} | extra


BITRIX_CONTACT = {
    "ID": "5",
    "POST": "Purchasing manager",
    "HONORIFIC": None,
    "NAME": "Anna",
    "SECOND_NAME": None,
    "LAST_NAME": "Petrova",
    "TYPE_ID": "CLIENT",
    "COMPANY_ID": "3",
    "ASSIGNED_BY_ID": "1",
    "OPENED": "Y",
    "HAS_PHONE": "Y",
    "HAS_EMAIL": "Y",
    "DATE_CREATE": "2024-03-01T10:00:00+03:00",
    "PHONE": [{"ID": "11", "VALUE_TYPE": "WORK", "VALUE": "+7 495 123-45-67", "TYPE_ID": "PHONE"}],
    "EMAIL": [
        {"ID": "12", "VALUE_TYPE": "WORK", "VALUE": "anna@acme.test", "TYPE_ID": "EMAIL"},
        {"ID": "13", "VALUE_TYPE": "HOME", "VALUE": "anna.p@mail.ru", "TYPE_ID": "EMAIL"},
    ],
}
BITRIX_COMPANY = {
    "ID": "3",
    "TITLE": "Acme LLC",
    "COMPANY_TYPE": "CUSTOMER",
    "INDUSTRY": "IT",
    "ASSIGNED_BY_ID": "1",
    "WEB": [
        {"ID": "20", "VALUE_TYPE": "WORK", "VALUE": "https://www.acme.test/", "TYPE_ID": "WEB"}
    ],
    "PHONE": [{"ID": "21", "VALUE_TYPE": "WORK", "VALUE": "+7 495 000-00-00", "TYPE_ID": "PHONE"}],
}
BITRIX_USER = [{"ID": "1", "ACTIVE": True, "NAME": "Ivan", "LAST_NAME": "Sidorov"}]
BITRIX_NOT_FOUND = {"error": "", "error_description": "Not found"}
BITRIX_LIMIT = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
BITRIX_AUTH = {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"}


def hubspot_object(object_id: str, properties: dict) -> dict:
    return {
        "id": object_id,
        "properties": {"hs_object_id": object_id} | properties,
        "createdAt": "2024-03-01T10:00:00.000Z",
        "updatedAt": "2026-11-20T08:30:00.000Z",
        "archived": False,
    }


HUBSPOT_CONTACT = hubspot_object(
    "151",
    {
        "email": "anna@acme.test",
        "hs_additional_emails": "a.petrova@acme.test;anna.p@gmail.com",
        "firstname": "Anna",
        "lastname": "Petrova",
        "phone": "+49 30 901820",
        "mobilephone": None,
        "jobtitle": "Purchasing manager",
        "hubspot_owner_id": "77",
        "createdate": "2024-03-01T10:00:00.000Z",
        "lastmodifieddate": "2026-11-20T08:30:00.000Z",
    },
)
HUBSPOT_COMPANY = hubspot_object(
    "9001",
    {
        "name": "Acme GmbH",
        "domain": "acme.test",
        "hs_additional_domains": "acme.example",
        "phone": "+49 30 1234567",
        "hubspot_owner_id": "77",
        "createdate": "2024-01-01T00:00:00.000Z",
    },
)
HUBSPOT_OWNER = {
    "id": "77",
    "email": "jonas@seller.test",
    "firstName": "Jonas",
    "lastName": "Weber",
    "userId": 9123,
    "userIdIncludingInactive": 9123,
    "type": "PERSON",
    "createdAt": "2020-01-01T00:00:00.000Z",
    "updatedAt": "2026-01-01T00:00:00.000Z",
    "archived": False,
}


def hubspot_page(results: list, after: str | None = None, total: int | None = None) -> dict:
    page = {"total": len(results) if total is None else total, "results": results}
    if after:
        page["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
    return page


def hubspot_associations(*company_ids: str, primary: str | None = None) -> dict:
    results = []
    for company_id in company_ids:
        types = [{"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]
        if company_id == primary:
            types.insert(0, {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"})
        results.append({"toObjectId": int(company_id), "associationTypes": types})
    return {"results": results}


def hubspot_error(status: int, category: str, message: str) -> dict:
    return {
        "status": "error",
        "message": message,
        "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
        "category": category,
    }
