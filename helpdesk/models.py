"""Import every model so SQLAlchemy's metadata (and Alembic) sees all tables."""

from helpdesk.accounts.models import ApiToken, Role, Team, User  # noqa: F401
from helpdesk.contacts.models import (  # noqa: F401
    Contact,
    ContactEmail,
    ContactPhone,
    Organization,
    OrganizationDomain,
)
from helpdesk.outbox.models import OutboxItem, PeriodicRun  # noqa: F401
from helpdesk.tickets.models import (  # noqa: F401
    Attachment,
    AuditEvent,
    Counter,
    Message,
    Participant,
    Tag,
    Ticket,
)
