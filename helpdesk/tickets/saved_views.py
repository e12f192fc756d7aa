"""Named queue filters an agent saves for themselves or shares with every agent."""

from sqlalchemy import or_, select

from helpdesk.accounts.actor import Actor
from helpdesk.errors import NotFound, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.tickets.console_models import SavedView
from helpdesk.tickets.queries import SORTS, QueueFilter
from helpdesk.validation import clean_name

VIEW_NAME_MAX = 100


def views_for(actor: Actor) -> list[SavedView]:
    """The agent's own views and the shared ones, by name."""
    if not actor.is_staff:
        return []
    stmt = (
        select(SavedView)
        .where(or_(SavedView.owner_id == actor.user.id, SavedView.shared.is_(True)))
        .order_by(SavedView.name, SavedView.id)
    )
    return list(db.session.execute(stmt).scalars())


def get_view(actor: Actor, view_id: int) -> SavedView:
    found = next((v for v in views_for(actor) if v.id == view_id), None)
    if found is None:
        raise NotFound("There is no such saved view.")
    return found


def save_view(
    actor: Actor, *, name: str, queue_filter: QueueFilter, sort: str, shared: bool
) -> SavedView:
    """Save the filter under a name; saving again under the same name replaces it."""
    if not actor.is_staff:
        raise PermissionDenied("Only agents save views.")
    name = clean_name(name, "name")
    if len(name) > VIEW_NAME_MAX:
        raise ValidationError(
            "The name is too long (at most %(max)s characters).",
            {"name": "Too long."},
            max=VIEW_NAME_MAX,
        )
    if queue_filter.is_empty:
        raise ValidationError("Choose at least one filter to save.", {"filters": "Empty."})
    if sort not in SORTS:
        raise ValidationError("Unknown sort “%(sort)s”.", {"sort": "Unknown."}, sort=sort[:20])
    view = db.session.execute(
        select(SavedView).where(SavedView.owner_id == actor.user.id, SavedView.name == name)
    ).scalar_one_or_none()
    if view is None:
        view = SavedView(owner_id=actor.user.id, name=name)
        db.session.add(view)
    view.filters = queue_filter.to_json()
    view.sort = sort
    view.shared = shared
    db.session.flush()
    return view


def delete_view(actor: Actor, view_id: int) -> None:
    """Delete a view: its owner may, and an admin may delete a shared one."""
    view = get_view(actor, view_id)
    if view.owner_id != actor.user.id and not actor.is_admin:
        raise PermissionDenied("Only its owner or an administrator can delete a shared view.")
    db.session.delete(view)
    db.session.flush()
