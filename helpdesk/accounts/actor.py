"""Who is acting: passed explicitly to every service, so the poller and jobs can act too."""

import getpass
from dataclasses import dataclass

from helpdesk.accounts.models import Role, User
from helpdesk.contacts.models import Contact
from helpdesk.tickets.states import Mover


@dataclass(frozen=True, eq=False)
class Actor:
    user: User | None = None
    contact: Contact | None = None
    is_system: bool = False
    name: str | None = None  # how a system actor is recorded (default "system")

    @classmethod
    def for_user(cls, user: User) -> "Actor":
        return cls(user=user, contact=user.contact)

    @classmethod
    def for_contact(cls, contact: Contact) -> "Actor":
        """A requester without an account (a mail sender), or with one."""
        return cls(user=contact.user, contact=contact)

    @classmethod
    def system(cls) -> "Actor":
        return cls(is_system=True)

    @classmethod
    def command_line(cls) -> "Actor":
        """Someone at the server's shell running a `flask` command: allowed what the system
        is (they hold the database), recorded with the operating-system account they used."""
        try:
            account = getpass.getuser()
        except (OSError, KeyError):  # no login name and no passwd entry (some containers)
            account = "unknown account"
        return cls(is_system=True, name=f"command line ({account})")

    @property
    def role(self) -> Role | None:
        if self.user is not None:
            return self.user.role
        return Role.CUSTOMER if self.contact is not None else None

    @property
    def is_staff(self) -> bool:
        return self.user is not None and self.user.is_staff

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.role == Role.ADMIN

    @property
    def mover(self) -> Mover:
        if self.is_system:
            return Mover.SYSTEM
        return Mover.AGENT if self.is_staff else Mover.CUSTOMER

    @property
    def label(self) -> str:
        if self.is_system:
            return self.name or "system"
        if self.user is not None:
            return f"{self.user.name} <{self.user.email}>"
        assert self.contact is not None
        return f"{self.contact.name} <{self.contact.primary_email}>"
