"""Internal notes that name other agents with @: stored, and announced as "note.mentioned"."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from helpdesk import events
from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Role, User
from helpdesk.extensions import db
from helpdesk.tickets import permissions
from helpdesk.tickets.console_models import Mention
from helpdesk.tickets.models import Message, Ticket
from helpdesk.tickets.services import add_note
from helpdesk.validation import Upload

NOTE_MENTIONED = "note.mentioned"
# "@alice" (the part of the address before the @) or "@alice@example.com".
_MENTION = re.compile(r"(?<![\w.@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")


@dataclass
class NoteResult:
    message: Message
    mentioned: list[User] = field(default_factory=list)
    # Named, but they cannot see this ticket: not notified.
    unreachable: list[str] = field(default_factory=list)


def find_mentioned(body: str) -> tuple[list[User], list[str]]:
    """The active agents a text names, and the names that match no agent."""
    handles = list(dict.fromkeys(h.lower().rstrip(".") for h in _MENTION.findall(body)))
    if not handles:
        return [], []
    staff = select(User).where(User.active.is_(True), User.role.in_([Role.AGENT, Role.ADMIN]))
    found, unknown = [], []
    for handle in handles[:20]:
        if "@" in handle:
            match = User.email == handle
        else:  # addresses are stored in lower case
            literal = handle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            match = User.email.like(literal + "@%", escape="\\")
        users = list(db.session.execute(staff.where(match)).scalars())
        if len(users) == 1:
            found.append(users[0])
        else:
            unknown.append("@" + handle)
    return found, unknown


def add_note_with_mentions(
    ticket: Ticket, actor: Actor, *, body: str, uploads: Sequence[Upload] = ()
) -> NoteResult:
    """Add an internal note; every agent it @mentions who can see the ticket is recorded
    and announced (one "note.mentioned" event each)."""
    message = add_note(ticket, actor, body=body, uploads=uploads)
    users, _unknown = find_mentioned(message.body_text)
    result = NoteResult(message)
    for user in users:
        if actor.user is not None and user.id == actor.user.id:
            continue
        if not permissions.can_view_ticket(Actor.for_user(user), ticket):
            result.unreachable.append(user.name)
            continue
        db.session.add(Mention(message_id=message.id, user_id=user.id))
        result.mentioned.append(user)
    db.session.flush()
    for user in result.mentioned:
        events.publish(NOTE_MENTIONED, ticket_id=ticket.id, message_id=message.id, user_id=user.id)
    return result


def mentions_of(message_ids: Sequence[int]) -> dict[int, list[User]]:
    """Who each note mentions, for showing them."""
    if not message_ids:
        return {}
    rows = db.session.execute(
        select(Mention.message_id, User)
        .join(User, User.id == Mention.user_id)
        .where(Mention.message_id.in_(list(message_ids)))
        .order_by(User.name)
    )
    found: dict[int, list[User]] = {}
    for message_id, user in rows:
        found.setdefault(message_id, []).append(user)
    return found
