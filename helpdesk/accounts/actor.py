"""Who is acting: passed explicitly to every service, so the poller and jobs can act too."""

from dataclasses import dataclass

from helpdesk.accounts.models import Role, User
from helpdesk.contacts.models import Contact
from helpdesk.tickets.states import Mover


@dataclass(frozen=True, eq=False)
class Actor:
    user: User | None = None
    contact: Contact | None = None
    is_system: bool = False

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
            return "system"
        if self.user is not None:
            return f"{self.user.name} <{self.user.email}>"
        assert self.contact is not None
        return f"{self.contact.name} <{self.contact.primary_email}>"
