"""The console's navigation: other parts of the app add their pages here.

from flask_babel import lazy_gettext as _l
from helpdesk.agent.nav import add_nav_item
add_nav_item(_l("Figures"), "agent.figures")                   # every agent
add_nav_item(_l("Admin"), "admin.index", admin_only=True)     # administrators only

Labels are lazy_gettext strings: they are put in the agent's language when a page is drawn.
"""

from dataclasses import dataclass

from flask import request, url_for
from flask_babel import lazy_gettext as _l

from helpdesk.accounts.actor import Actor


@dataclass(frozen=True)
class NavItem:
    label: str  # or a lazy_gettext string
    endpoint: str
    admin_only: bool = False
    order: int = 100


_ITEMS: list[NavItem] = []


def add_nav_item(label: str, endpoint: str, *, admin_only: bool = False, order: int = 100):
    """Show a link to `endpoint` in the console's navigation (idempotent)."""
    item = NavItem(label, endpoint, admin_only, order)
    if all(i.endpoint != endpoint for i in _ITEMS):
        _ITEMS.append(item)


def nav_for(actor: Actor | None) -> list[dict]:
    """The links this actor sees, in order, with the current one marked."""
    if actor is None or not actor.is_staff:
        return []
    links = []
    for item in sorted(_ITEMS, key=lambda i: (i.order, str(i.label))):
        if item.admin_only and not actor.is_admin:
            continue
        links.append(
            {
                "label": str(item.label),
                "url": url_for(item.endpoint),
                "current": request.endpoint == item.endpoint,
            }
        )
    return links


add_nav_item(_l("Queue"), "agent.queue", order=10)
add_nav_item(_l("Search"), "agent.search", order=20)
add_nav_item(_l("New ticket"), "agent.new_ticket", order=30)
