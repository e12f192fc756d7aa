"""Creating users, signing in, and API tokens."""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from helpdesk.accounts.models import ApiToken, Role, Team, User
from helpdesk.accounts.passwords import hash_password, needs_rehash, verify_password
from helpdesk.contacts.models import Organization
from helpdesk.contacts.services import add_email, find_contact_by_email, find_or_create_contact
from helpdesk.errors import Conflict, NotFound, RateLimited, ValidationError
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow
from helpdesk.validation import clean_email, clean_name, clean_password

# After this many wrong passwords within the window, the account refuses sign-in until the
# window has passed since the last failure. Stored in the database: every process sees it.
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()


def create_user(
    email: str,
    password: str | None,
    role: Role,
    name: str | None = None,
    organization: Organization | None = None,
    teams: list[Team] = (),
    verified: bool = True,
) -> User:
    """Create a user; a customer gets (or takes over) the contact that owns the address."""
    address = clean_email(email)
    if find_user_by_email(address) is not None:
        raise Conflict(
            "A user with the address %(address)s exists already.",
            {"email": "In use."},
            address=address,
        )
    display = clean_name(name) if name else address.partition("@")[0]
    user = User(
        email=address,
        name=display,
        role=Role(role),
        password_hash=hash_password(clean_password(password)) if password else None,
        active=True,
        all_teams=False,
        org_manager=False,
        failed_logins=0,
    )
    user.teams = list(teams)
    if user.role == Role.CUSTOMER:
        contact = find_or_create_contact(address, display)
        if contact.user is not None:
            raise Conflict(
                "%(address)s belongs to another account.", {"email": "In use."}, address=address
            )
        if organization is not None:
            contact.organization = organization
        for entry in contact.emails:
            if entry.email == address:
                entry.verified = verified
        user.contact = contact
    db.session.add(user)
    db.session.flush()
    return user


def claim_address(user: User, email: str) -> None:
    """A customer confirmed `email`: they own its contact and see its earlier tickets."""
    address = clean_email(email)
    contact = find_contact_by_email(address)
    if contact is not None and contact.user is not None and contact.user.id != user.id:
        raise Conflict(
            "%(address)s belongs to another account.", {"email": "In use."}, address=address
        )
    if user.contact is None:
        user.contact = contact or find_or_create_contact(address, user.name)
    elif contact is None:
        add_email(user.contact, address, verified=True)
    elif contact.id != user.contact.id:
        # Fold the address-only contact into the account's contact, tickets and all.
        from helpdesk.tickets.services import reassign_requester

        reassign_requester(contact, user.contact)
    for entry in user.contact.emails:
        if entry.email == address:
            entry.verified = True
    db.session.flush()


def authenticate(email: str, password: str) -> User:
    """The user with this address and password. Raises ValidationError or RateLimited."""
    user = find_user_by_email(email or "")
    now = utcnow()
    if user is not None and user.failed_logins >= MAX_FAILED_LOGINS and user.failed_login_at:
        wait = user.failed_login_at + FAILED_LOGIN_WINDOW - now
        if wait.total_seconds() > 0:
            minutes = max(1, round(wait.total_seconds() / 60))
            retry_after = int(wait.total_seconds()) + 1
            if minutes == 1:
                raise RateLimited(
                    "Too many failed sign-in attempts. Try again in %(minutes)s minute,"
                    " or reset your password.",
                    retry_after=retry_after,
                    minutes=minutes,
                )
            raise RateLimited(
                "Too many failed sign-in attempts. Try again in %(minutes)s minutes,"
                " or reset your password.",
                retry_after=retry_after,
                minutes=minutes,
            )
        user.failed_logins = 0
    if user is None or not verify_password(user.password_hash, password or ""):
        if user is not None:
            user.failed_logins += 1
            user.failed_login_at = now
        raise ValidationError("Wrong e-mail address or password.", {"password": "Wrong."})
    if not user.active:
        raise ValidationError("This account is disabled.", {"email": "Disabled."})
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.failed_login_at = None
    user.last_login_at = now
    return user


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(clean_password(password))
    user.failed_logins = 0


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "API token") -> str:
    """Make an API token for `user`; only its hash is stored, so show it now or never."""
    token = "hd_" + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user=user,
            name=clean_name(name)[:100],
            token_hash=_token_digest(token),
            prefix=token[:8],
        )
    )
    db.session.flush()
    return token


def user_for_token(token: str) -> User | None:
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(token or ""))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    return row.user


def revoke_token(user: User, token_id: int) -> None:
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound("No such token.")
    row.revoked_at = utcnow()


def create_team(name: str, members: list[User] = ()) -> Team:
    team_name = clean_name(name)
    if db.session.execute(select(Team).where(Team.name == team_name)).first():
        raise Conflict("A team named %(name)s exists already.", {"name": "In use."}, name=team_name)
    team = Team(name=team_name)
    team.members = list(members)
    db.session.add(team)
    db.session.flush()
    return team
