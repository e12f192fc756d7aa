"""Pydantic models: they validate what comes in, shape what goes out, and are the schemas of
the OpenAPI document (helpdesk.api.openapi). Nothing else describes the API."""
