"""A ticket's history for the console: messages and recorded changes, in time order."""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext
from markupsafe import Markup
from sqlalchemy import select

from helpdesk.agent.display import priority_label, status_label
from helpdesk.extensions import db
from helpdesk.i18n import N_
from helpdesk.tickets.models import AuditEvent, Message, Ticket


def _changed(none: str, old: str, new: str, both: str) -> dict[str, str]:
    return {"none": none, "old": old, "new": new, "both": both}


# Changes worth a line in the history (merges and splits already have their event messages),
# as whole sentences for the values the change has: none, the old one, the new one or both.
_SHOWN = {
    "status": _changed(
        N_("%(who)s changed the status"),
        N_("%(who)s changed the status from %(old)s"),
        N_("%(who)s changed the status to %(new)s"),
        N_("%(who)s changed the status from %(old)s to %(new)s"),
    ),
    "assignee": _changed(
        N_("%(who)s changed the assignee"),
        N_("%(who)s changed the assignee from %(old)s"),
        N_("%(who)s changed the assignee to %(new)s"),
        N_("%(who)s changed the assignee from %(old)s to %(new)s"),
    ),
    "team": _changed(
        N_("%(who)s changed the team"),
        N_("%(who)s changed the team from %(old)s"),
        N_("%(who)s changed the team to %(new)s"),
        N_("%(who)s changed the team from %(old)s to %(new)s"),
    ),
    "priority": _changed(
        N_("%(who)s changed the priority"),
        N_("%(who)s changed the priority from %(old)s"),
        N_("%(who)s changed the priority to %(new)s"),
        N_("%(who)s changed the priority from %(old)s to %(new)s"),
    ),
    "tags": _changed(
        N_("%(who)s changed the tags"),
        N_("%(who)s changed the tags from %(old)s"),
        N_("%(who)s changed the tags to %(new)s"),
        N_("%(who)s changed the tags from %(old)s to %(new)s"),
    ),
    "participant_added": {
        "none": N_("%(who)s copied in"),
        "new": N_("%(who)s copied in %(new)s"),
    },
    "participant_removed": {
        "none": N_("%(who)s stopped copying in"),
        "old": N_("%(who)s stopped copying in from %(old)s"),
    },
    "spam": {
        "none": N_("%(who)s marked as spam, blocked"),
        "new": N_("%(who)s marked as spam, blocked %(new)s"),
    },
}
# A sentence for values the change has not got: the one that leaves out the fewest.
_FALLBACK = {"both": ("both", "new", "old", "none"), "old": ("old", "none"), "new": ("new", "none")}
# The audit's value when a ticket was marked as spam without blocking anyone.
_NOT_BLOCKED = "not blocked"


@dataclass(frozen=True)
class Change:
    """One audited change, shown as a line between messages."""

    at: datetime
    who: str
    action: str
    old: str | None
    new: str | None

    @property
    def is_change(self) -> bool:
        return True

    def sentence(self) -> Markup:
        """The line in the agent's language: the person in bold, the values in italics."""
        sentences = _SHOWN[self.action]
        has = ("both" if self.new else "old") if self.old else ("new" if self.new else "none")
        msgid = next(sentences[k] for k in _FALLBACK.get(has, ("none",)) if k in sentences)
        values = {"who": Markup("<strong>%s</strong>") % (self.who or gettext("system"))}
        if self.old:
            values["old"] = Markup("<em>%s</em>") % self._value(self.old)
        if self.new:
            values["new"] = Markup("<em>%s</em>") % self._value(self.new)
        # Markup's % escapes each value that is not markup already.
        return Markup(gettext(msgid)) % values  # noqa: S704  (the catalog's text is trusted)

    def _value(self, value: str) -> str:
        if self.action == "status":
            return status_label(value)
        if self.action == "priority":
            return priority_label(value)
        if self.action == "spam" and value == _NOT_BLOCKED:
            return gettext("not blocked")
        return value


def _who(label: str) -> str:
    return label.split(" <", 1)[0] if label else ""


def history(ticket: Ticket) -> list[Message | Change]:
    """Every message and shown change, oldest first (ties: messages before changes)."""
    events = db.session.execute(
        select(AuditEvent)
        .where(AuditEvent.ticket_id == ticket.id, AuditEvent.action.in_(list(_SHOWN)))
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ).scalars()
    changes = [
        Change(e.created_at, _who(e.actor_label), e.action, e.old_value, e.new_value)
        for e in events
    ]
    entries: list[tuple] = [(m.created_at, 0, m.id, m) for m in ticket.messages]
    entries += [(c.at, 1, i, c) for i, c in enumerate(changes)]
    return [entry[-1] for entry in sorted(entries, key=lambda e: e[:3])]
