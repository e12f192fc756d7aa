"""Import every module that defines tables, so SQLAlchemy's metadata (and Alembic) sees all."""

from helpdesk import settings  # noqa: F401
from helpdesk.accounts import models as accounts_models  # noqa: F401
from helpdesk.api import models as api_models  # noqa: F401
from helpdesk.contacts import models as contacts_models  # noqa: F401
from helpdesk.crm import connections, links, notes  # noqa: F401
from helpdesk.mail import delivery, mailboxes, templates_store  # noqa: F401
from helpdesk.mail import models as mail_models  # noqa: F401
from helpdesk.outbox import models as outbox_models  # noqa: F401
from helpdesk.tickets import blocklist, console_models  # noqa: F401
from helpdesk.tickets import models as tickets_models  # noqa: F401
from helpdesk.webhooks import models as webhooks_models  # noqa: F401
