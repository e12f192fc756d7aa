"""Webhooks: signed HTTP callbacks to endpoints that admins register, sent via the outbox."""

EVENTS = (
    "ticket.created",
    "ticket.updated",
    "ticket.status_changed",
    "ticket.assigned",
    "ticket.message_added",
)
