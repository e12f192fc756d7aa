"""People administration: staff accounts, teams, customer accounts and invitations.

Every verb takes the acting administrator, refuses anyone else (PermissionDenied), writes an
audit event (no ticket) and flushes; the request commits.
"""

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from helpdesk import audit, outbox
from helpdesk.accounts import signup
from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Invitation, Role, Team, User
from helpdesk.accounts.services import create_team as _create_team
from helpdesk.accounts.services import create_user
from helpdesk.contacts.models import Organization
from helpdesk.errors import Conflict, NotFound, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.i18n import DEFAULT_LOCALE
from helpdesk.mail.sending import send_mail
from helpdesk.outbox.runner import handler
from helpdesk.settings import business_name
from helpdesk.tickets.models import Ticket
from helpdesk.timeutil import utcnow
from helpdesk.validation import clean_name, clean_team_name

MAIL_STAFF_WELCOME = "mail.staff_welcome"
STAFF_ROLES = (Role.AGENT, Role.ADMIN)


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin or not actor.user.active:
        raise PermissionDenied("Only administrators can manage people and teams.")


def _names(items) -> str:
    return ", ".join(sorted(item.name for item in items)) or "-"


def _keeps_an_admin(user: User) -> None:
    """Refuse to take the administrator right (role or access) from the last active admin."""
    if user.role != Role.ADMIN or not user.active:
        return
    others = db.session.execute(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
    ).scalar_one()
    if not others:
        raise Conflict("At least one active administrator must remain.")


def _staff_role(role: str | Role) -> Role:
    try:
        chosen = Role(role)
    except ValueError:
        chosen = None
    if chosen not in STAFF_ROLES:
        raise ValidationError("Choose agent or administrator.", {"role": "Unknown role."})
    return chosen


# --- staff ------------------------------------------------------------------------------------


def add_staff(
    actor: Actor, email: str, name: str, role: str | Role, teams: list[Team] = ()
) -> User:
    """Create an agent or administrator without a password and mail them a set-password link."""
    _require_admin(actor)
    user = create_user(email, None, _staff_role(role), name=clean_name(name), teams=list(teams))
    outbox.enqueue(MAIL_STAFF_WELCOME, {"user_id": user.id, "inviter": actor.user.name})
    audit.record(
        actor, "agent.created", new=f"{user.email} ({user.role.value}; {_names(user.teams)})"
    )
    db.session.flush()
    return user


def resend_welcome(actor: Actor, user: User) -> None:
    """Mail a new set-password link to a staff member who has not chosen a password yet."""
    _require_admin(actor)
    if not user.is_staff or user.password_hash or not user.active:
        raise Conflict("%(address)s does not wait for a set-password link.", address=user.email)
    outbox.enqueue(MAIL_STAFF_WELCOME, {"user_id": user.id, "inviter": actor.user.name})
    audit.record(actor, "agent.invited", new=user.email)
    db.session.flush()


def update_staff(
    actor: Actor, user: User, *, name: str, role: str | Role, teams: list[Team]
) -> None:
    """Change a staff member's name, role and teams; an admin cannot demote themselves."""
    _require_admin(actor)
    if not user.is_staff:
        raise NotFound("No such agent.")
    new_name, new_role = clean_name(name), _staff_role(role)
    if new_role != user.role:
        _keeps_an_admin(user)
        if user.id == actor.user.id:
            raise Conflict("You cannot change your own role; ask another administrator.")
        audit.record(
            actor, "agent.role_changed", f"{user.email}: {user.role.value}", new_role.value
        )
        user.role = new_role
    if new_name != user.name:
        audit.record(actor, "agent.renamed", user.name, new_name)
        user.name = new_name
    if {t.id for t in teams} != {t.id for t in user.teams}:
        audit.record(
            actor, "agent.teams_changed", f"{user.email}: {_names(user.teams)}", _names(teams)
        )
        user.teams = list(teams)
    db.session.flush()


def set_active(actor: Actor, user: User, active: bool) -> None:
    """Deactivate (no sign-in; assigned tickets stay) or reactivate any account."""
    _require_admin(actor)
    if user.active == active:
        return
    if not active:
        _keeps_an_admin(user)
        if user.id == actor.user.id:
            raise Conflict("You cannot deactivate your own account.")
    kind = "agent" if user.is_staff else "user"
    audit.record(actor, f"{kind}.{'reactivated' if active else 'deactivated'}", new=user.email)
    user.active = active
    db.session.flush()


# --- teams ------------------------------------------------------------------------------------


def create_team(actor: Actor, name: str, members: list[User] = ()) -> Team:
    _require_admin(actor)
    team = _create_team(clean_team_name(name), list(members))
    audit.record(actor, "team.created", new=f"{team.name} ({_names(team.members)})")
    db.session.flush()
    return team


def rename_team(actor: Actor, team: Team, name: str) -> None:
    """Raises Conflict when another team has the name."""
    _require_admin(actor)
    new_name = clean_team_name(name)
    if new_name == team.name:
        return
    clash = db.session.execute(
        select(Team.id).where(Team.name == new_name, Team.id != team.id)
    ).first()
    if clash:
        raise Conflict("A team named %(name)s exists already.", {"name": "In use."}, name=new_name)
    audit.record(actor, "team.renamed", team.name, new_name)
    team.name = new_name
    db.session.flush()


def set_team_members(actor: Actor, team: Team, members: list[User]) -> None:
    _require_admin(actor)
    if any(not m.is_staff for m in members):
        raise ValidationError("Only agents can be team members.", {"members": "Not an agent."})
    if {m.id for m in members} != {m.id for m in team.members}:
        audit.record(
            actor, "team.members_changed", f"{team.name}: {_names(team.members)}", _names(members)
        )
        team.members = list(members)
    db.session.flush()


def team_ticket_count(team: Team) -> int:
    return db.session.execute(
        select(func.count()).select_from(Ticket).where(Ticket.team_id == team.id)
    ).scalar_one()


def delete_team(actor: Actor, team: Team) -> None:
    """Raises Conflict while any ticket, open or closed, belongs to the team."""
    _require_admin(actor)
    used = team_ticket_count(team)
    if used:
        if used == 1:
            raise Conflict(
                "%(team)s still has %(count)s ticket; move them to another team first"
                " (closed ones too, to keep their history readable).",
                team=team.name,
                count=used,
            )
        raise Conflict(
            "%(team)s still has %(count)s tickets; move them to another team first"
            " (closed ones too, to keep their history readable).",
            team=team.name,
            count=used,
        )
    audit.record(actor, "team.deleted", old=f"{team.name} ({_names(team.members)})")
    db.session.delete(team)
    db.session.flush()


# --- customers and invitations ------------------------------------------------------------------


def set_org_manager(actor: Actor, user: User, manager: bool) -> None:
    """Let a customer see (or stop seeing) every ticket of their organization."""
    _require_admin(actor)
    if user.role != Role.CUSTOMER:
        raise NotFound("No such customer account.")
    if manager and (user.contact is None or user.contact.organization_id is None):
        raise ValidationError("%(address)s belongs to no organization.", address=user.email)
    if user.org_manager != manager:
        audit.record(actor, "user.org_manager", f"{user.email}: {user.org_manager}", manager)
        user.org_manager = manager
    db.session.flush()


def invite_customer(
    actor: Actor, email: str, name: str | None = None, organization: Organization | None = None
) -> Invitation:
    """Record and mail a customer invitation (replacing a pending one for the address)."""
    _require_admin(actor)
    invitation = signup.invite(actor, email, name, organization)
    org = f" ({invitation.organization.name})" if invitation.organization else ""
    audit.record(actor, "invitation.created", new=f"{invitation.email}{org}")
    db.session.flush()
    return invitation


def revoke_invitation(actor: Actor, invitation_id: int) -> Invitation:
    """Its link stops working; NotFound unless it is still pending."""
    _require_admin(actor)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation not in signup.pending_invitations(invitation.email):
        raise NotFound("That invitation is not pending any more.")
    invitation.revoked_at = utcnow()
    audit.record(actor, "invitation.revoked", old=invitation.email)
    db.session.flush()
    return invitation


# --- the set-password mail ------------------------------------------------------------------------


@handler(MAIL_STAFF_WELCOME)
def send_staff_welcome(payload: dict) -> str:
    user = db.session.get(User, payload["user_id"])
    if user is None or not user.active or user.password_hash:
        return "not sent: the account is gone, disabled or has a password"
    config = current_app.config
    with (
        current_app.test_request_context(base_url=config["HELPDESK_BASE_URL"]),
        force_locale(user.locale or DEFAULT_LOCALE),
    ):
        context = {
            "name": user.name,
            "email": user.email,
            "inviter": payload.get("inviter") or "",
            "helpdesk_name": business_name(),
            "days": signup.INVITE_MAX_AGE.days,
            "link": url_for(
                "portal.reset_password", token=signup.make_welcome_token(user), _external=True
            ),
        }
        text = render_template("admin/people_mail_welcome.txt", **context)
        html = render_template("admin/people_mail_welcome.html", **context)
        subject = _("Your %(site)s account: choose a password", site=context["helpdesk_name"])
    headers = {"Auto-Submitted": "auto-generated"}
    return send_mail([user.email], subject, text, html=html, headers=headers)
