"""Customer accounts: sign-up with e-mail confirmation, invitations, password reset and change,
profile.

Every token is stateless (itsdangerous, a salt and a lifetime per purpose). Sign-up stores
nothing until the customer comes back through the link in their mail and chooses a password,
so an unconfirmed sign-up leaves no account behind and nobody can reserve someone else's
address. A reset token carries a fingerprint of the current password hash: once the password
changes, every earlier reset link stops working.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from helpdesk import outbox
from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Invitation, Role, User
from helpdesk.accounts.passwords import verify_password
from helpdesk.accounts.services import claim_address, create_user, find_user_by_email, set_password
from helpdesk.contacts.models import Organization
from helpdesk.contacts.services import organization_for_domain
from helpdesk.errors import Conflict, NotFound, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.i18n import N_, supported_locale, supported_timezone
from helpdesk.settings import get_setting
from helpdesk.timeutil import utcnow
from helpdesk.validation import PASSWORD_MAX, clean_email, clean_name, clean_password

SIGNUP_MAX_AGE = timedelta(days=2)
INVITE_MAX_AGE = timedelta(days=14)
RESET_MAX_AGE = timedelta(hours=2)

MAIL_SIGNUP = "mail.signup_confirm"
MAIL_ACCOUNT_EXISTS = "mail.account_exists"
MAIL_INVITATION = "mail.invitation"
MAIL_RESET = "mail.password_reset"
MAIL_CHANGE_NOTICE = "mail.password_changed"

INVALID_LINK = N_("This link is invalid or has expired.")  # NotFound(INVALID_LINK): marked


def lifetimes() -> dict[str, int]:
    """How long each kind of link works, for the texts that tell the customer."""
    return {
        "signup_days": SIGNUP_MAX_AGE.days,
        "invite_days": INVITE_MAX_AGE.days,
        "reset_hours": int(RESET_MAX_AGE.total_seconds() // 3600),
    }


@dataclass(frozen=True)
class Grant:
    """What a confirmation or invitation link allows: creating an account for this address."""

    email: str
    name: str
    organization_id: int | None = None
    invited: bool = False
    invitation_id: int | None = None


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"helpdesk.{purpose}")


def _load(purpose: str, token: str, max_age: timedelta) -> dict:
    try:
        data = _serializer(purpose).loads(token, max_age=int(max_age.total_seconds()))
    except BadSignature:
        raise NotFound(INVALID_LINK) from None
    if not isinstance(data, dict):
        raise NotFound(INVALID_LINK)
    return data


def _display_name(address: str, name: str | None) -> str:
    return clean_name(name) if name and name.strip() else address.partition("@")[0]


def check_signup_policy(address: str) -> None:
    """Raise unless the business's sign-up policy lets this address sign up by itself."""
    policy = get_setting("signup_policy")
    if policy == "invite":
        raise PermissionDenied("Accounts are created by invitation only.")
    if policy == "domains" and organization_for_domain(address) is None:
        raise ValidationError(
            "Sign-up is open to the addresses of our clients' organizations only.",
            {"email": "Not an address of a client organization."},
        )


# --- sign-up --------------------------------------------------------------------------------


def request_signup(email: str, name: str | None, locale: str | None = None) -> str:
    """Mail a confirmation link to the address (or, when it has an account already, a note
    saying so: the answer on screen is the same, so it reveals nothing). Returns the address."""
    address = clean_email(email)
    display = _display_name(address, name)
    check_signup_policy(address)
    if find_user_by_email(address) is not None:
        outbox.enqueue(MAIL_ACCOUNT_EXISTS, {"email": address, "locale": locale})
    else:
        outbox.enqueue(MAIL_SIGNUP, {"email": address, "name": display, "locale": locale})
    return address


def make_signup_token(email: str, name: str) -> str:
    return _serializer("signup").dumps({"email": email, "name": name})


def read_signup_token(token: str) -> Grant:
    data = _load("signup", token, SIGNUP_MAX_AGE)
    if not isinstance(data.get("email"), str) or not isinstance(data.get("name"), str):
        raise NotFound(INVALID_LINK)
    return Grant(email=data["email"], name=data["name"])


def complete_signup(
    grant: Grant, password: str, name: str | None = None, locale: str | None = None
) -> User:
    """Create the confirmed account; the address's earlier tickets become the account's."""
    if not grant.invited:
        check_signup_policy(grant.email)  # the policy may have tightened since the mail left
    if find_user_by_email(grant.email) is not None:
        raise Conflict(
            "There is already an account for %(email)s. Sign in or reset the password.",
            {"email": "Has an account."},
            email=grant.email,
        )
    organization = (
        db.session.get(Organization, grant.organization_id) if grant.organization_id else None
    )
    user = create_user(
        grant.email,
        password,
        Role.CUSTOMER,
        name=_display_name(grant.email, name or grant.name),
        organization=organization,
        verified=True,
    )
    user.locale = supported_locale(locale)
    claim_address(user, grant.email)
    for invitation in pending_invitations(grant.email):  # however the account came about
        invitation.accepted_at = utcnow()
    db.session.flush()
    return user


# --- invitations ----------------------------------------------------------------------------


def invite_customer(
    actor: Actor,
    email: str,
    name: str | None = None,
    organization: Organization | None = None,
    locale: str | None = None,
) -> str:
    """Mail an invitation to create an account (agents only; works under every policy)."""
    return invite(actor, email, name, organization, locale).email


def invite(
    actor: Actor,
    email: str,
    name: str | None = None,
    organization: Organization | None = None,
    locale: str | None = None,
) -> Invitation:
    """Record and mail an invitation; an earlier pending one for the address is replaced."""
    if not actor.is_staff:
        raise PermissionDenied("Only agents can invite customers.")
    address = clean_email(email)
    if find_user_by_email(address) is not None:
        raise Conflict(
            "%(address)s has an account already.", {"email": "Has an account."}, address=address
        )
    now = utcnow()
    for earlier in pending_invitations(address):
        earlier.revoked_at = now
    invitation = Invitation(
        email=address,
        name=_display_name(address, name),
        organization_id=organization.id if organization else None,
        invited_by_id=actor.user.id,
        created_at=now,
    )
    db.session.add(invitation)
    db.session.flush()
    outbox.enqueue(
        MAIL_INVITATION,
        {
            "email": address,
            "name": invitation.name,
            "organization_id": invitation.organization_id,
            "invitation_id": invitation.id,
            "inviter": actor.user.name,
            "locale": supported_locale(locale),
        },
    )
    return invitation


def pending_invitations(email: str | None = None) -> list[Invitation]:
    """Invitations not yet accepted, revoked or expired, newest first (for one address)."""
    query = select(Invitation).where(
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.created_at > utcnow() - INVITE_MAX_AGE,
    )
    if email is not None:
        query = query.where(Invitation.email == email)
    return list(db.session.execute(query.order_by(Invitation.id.desc())).scalars())


def make_invite_token(email: str, name: str, organization_id: int | None) -> str:
    # The link names the address's pending invitation, so revoking it kills the link;
    # 0 when none is pending any more (revoked before the mail left): the link never works.
    pending = pending_invitations(email)
    data = {"email": email, "name": name, "org": organization_id}
    data["inv"] = pending[0].id if pending else 0
    return _serializer("invite").dumps(data)


def read_invite_token(token: str) -> Grant:
    data = _load("invite", token, INVITE_MAX_AGE)
    if not isinstance(data.get("email"), str) or not isinstance(data.get("name"), str):
        raise NotFound(INVALID_LINK)
    org = data.get("org")
    invitation_id = data.get("inv")
    if invitation_id is not None:  # links mailed before invitations were recorded have none
        invitation = db.session.get(Invitation, invitation_id) if invitation_id else None
        if invitation is None or invitation.revoked_at or invitation.accepted_at:
            raise NotFound(INVALID_LINK)
    return Grant(
        email=data["email"],
        name=data["name"],
        organization_id=org if isinstance(org, int) else None,
        invited=True,
        invitation_id=invitation_id or None,
    )


# --- password reset -------------------------------------------------------------------------


def _hash_fingerprint(user: User) -> str:
    # A digest, not a slice of the hash itself: the link leaks nothing about the password.
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def request_password_reset(email: str, locale: str | None = None) -> str:
    """Mail a reset link if an active account has this address; the same answer either way."""
    address = clean_email(email)
    user = find_user_by_email(address)
    if user is not None and user.active:
        outbox.enqueue(MAIL_RESET, {"user_id": user.id, "locale": locale or user.locale})
    return address


def make_reset_token(user: User) -> str:
    return _serializer("reset").dumps({"user": user.id, "hash": _hash_fingerprint(user)})


def make_welcome_token(user: User) -> str:
    """A set-password link for a new staff account: lives as long as an invitation, and
    like a reset link it is spent once a password is set."""
    return _serializer("welcome").dumps({"user": user.id, "hash": _hash_fingerprint(user)})


def read_reset_token(token: str) -> User:
    """The user a reset (or welcome) link is for; NotFound once the password changed or the
    link aged."""
    try:
        data = _load("reset", token, RESET_MAX_AGE)
    except NotFound:
        data = _load("welcome", token, INVITE_MAX_AGE)
    user_id = data.get("user")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or data.get("hash") != _hash_fingerprint(user):
        raise NotFound(INVALID_LINK)
    return user


def reset_password(token: str, password: str) -> User:
    """Set a new password through a reset link; the link is spent afterwards."""
    user = read_reset_token(token)
    set_password(user, password)
    db.session.flush()
    return user


def change_password(user: User, current: str, new: str, repeated: str) -> None:
    """Set a new password for a signed-in user who knows the current one, and tell them by
    mail. Raises ValidationError (wrong current password, a mismatch, a weak new one)."""
    current = current or ""
    if len(current) > PASSWORD_MAX or not verify_password(user.password_hash, current):
        wrong = "Your current password is not right."
        raise ValidationError("Your current password is not right.", {"current_password": wrong})
    password = clean_password(new, field="new_password")
    if password != (repeated or ""):
        differ = "The two new passwords are not the same."
        raise ValidationError(
            "The two new passwords are not the same.", {"confirm_password": differ}
        )
    set_password(user, password)
    outbox.enqueue(MAIL_CHANGE_NOTICE, {"user_id": user.id, "locale": user.locale})
    db.session.flush()


# --- profile --------------------------------------------------------------------------------


def update_profile(user: User, *, name: str, locale: str | None, timezone: str | None) -> None:
    """Change the customer's display name, language and time zone (empty: the defaults)."""
    chosen_locale = supported_locale(locale) if locale else None
    if locale and chosen_locale is None:
        raise ValidationError("Please choose a language from the list.", {"locale": "Unknown."})
    chosen_zone = supported_timezone(timezone) if timezone else None
    if timezone and chosen_zone is None:
        raise ValidationError("Please choose a time zone from the list.", {"timezone": "Unknown."})
    user.name = clean_name(name)
    if user.contact is not None:
        user.contact.name = user.name  # what agents see beside the customer's requests
    user.locale = chosen_locale
    user.timezone = chosen_zone
    db.session.flush()
