"""Demo accounts and tickets for a first start (`make run`), made through the real services.

The services stamp the current time; afterwards every timestamp is moved to when its step
"happened" in the script below (days ago), so the queue looks lived-in and each history still
reads in order.
"""

import bisect
import os
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from helpdesk import outbox
from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Role, Team, User
from helpdesk.accounts.services import create_team, create_user
from helpdesk.contacts.models import Contact, Organization
from helpdesk.contacts.services import create_organization, find_or_create_contact
from helpdesk.extensions import db
from helpdesk.outbox.runner import run_due
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Attachment, AuditEvent, Channel, Message, Participant, Ticket
from helpdesk.timeutil import utcnow
from helpdesk.validation import Upload

DEMO_PASSWORD = "demo-password-1"  # noqa: S105  (printed for everyone to see: demo only)

# key: (role, e-mail, name, organization or team, note shown in the login block)
ACCOUNTS = {
    "admin": (Role.ADMIN, "admin@example.com", "Ada Admin", None, "sees every team"),
    "alice": (Role.AGENT, "alice@example.com", "Alice Martin", "Support", "team Support"),
    "bob": (Role.AGENT, "bob@example.com", "Bob Okafor", "Billing", "team Billing"),
    "carol": (Role.CUSTOMER, "carol@acme.example", "Carol Jones", "Acme", "manages Acme"),
    "dave": (Role.CUSTOMER, "dave@acme.example", "Dave Brown", "Acme", "Acme"),
    "erin": (Role.CUSTOMER, "erin@acme.example", "Erin Walker", "Acme", "Acme"),
    "frank": (Role.CUSTOMER, "frank@globex.example", "Frank Müller", "Globex", "Globex"),
    "grace": (Role.CUSTOMER, "grace@globex.example", "Grace Oliveira", "Globex", "Globex"),
    "heidi": (Role.CUSTOMER, "heidi@mailbox.example", "Heidi Novak", None, "free mail"),
}
ORGANIZATIONS = {
    "Acme": ("Acme Corporation", "acme.example"),
    "Globex": ("Globex", "globex.example"),
}
# Writes only by e-mail: a requester without an account.
MAIL_ONLY = ("ivan", "ivan.petrov@mailbox.example", "Иван Петров")


def _tiny_png() -> bytes:
    """A 48x32 "screenshot": a grey window, a red title bar and a dark error line."""
    width, height = 48, 32
    grey, red, dark = b"\xe8\xe8\xe8", b"\xc0\x30\x30", b"\x30\x30\x30"
    error_line = grey * 8 + dark * 32 + grey * 8
    rows = [red * width if y < 6 else error_line if 14 <= y <= 16 else grey * width
            for y in range(height)]  # fmt: skip
    raw = b"".join(b"\x00" + row for row in rows)  # filter byte 0: rows stored as they are

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PRINTER_LOG = Upload(
    "printer-error.log",
    "text/plain",
    b"2024-03-04 08:12:09 LaserJet M404dn: 13.B2.D1 paper jam in tray 2\n"
    b"2024-03-04 08:12:41 LaserJet M404dn: fuser temperature 231C (limit 220C)\n"
    b"2024-03-04 08:15:02 LaserJet M404dn: 13.B2.D1 paper jam in tray 2\n",
)
SCREENSHOT = Upload("screenshot.png", "image/png", _tiny_png())


@dataclass
class Script:
    """One ticket: who opened it, when, and what happened next.

    Steps are (hours after opening, verb, who, *arguments); verbs: reply, note, assign,
    status, tag, priority, merge_into.
    """

    key: str
    requester: str
    days_ago: float
    channel: Channel
    subject: str
    body: str
    team: str | None = None
    steps: list[tuple] = field(default_factory=list)
    uploads: tuple[Upload, ...] = ()


E, P, A, API = Channel.EMAIL, Channel.PORTAL, Channel.AGENT, Channel.API

SCRIPTS = [
    Script("wrong-address", "carol", 45, P, "Invoice INV-2024-0193 shows our old address",
           "Hello,\n\nthe invoice INV-2024-0193 still shows our old address in Springfield. We"
           " moved to 42 Harbour Road in January. Could you send a corrected one?\n\nCarol",
           "Billing", [
               (1, "assign", "bob"),
               (2, "reply", "bob", "Hi Carol,\n\nsorry about that. I updated your billing"
                " address and a corrected invoice is now in the portal.\n\nBob"),
               (20, "reply", "carol", "Got it, thank you!"),
               (21, "status", "bob", "resolved"),
               (200, "status", "bob", "closed"),
           ]),
    Script("portal-login", "frank", 40, E, "Cannot log in to the portal",
           "Hi,\n\nsince this morning the portal says my password is wrong, although I did"
           " not change it.\n\nFrank", "Support", [
               (3, "reply", "alice", "Hi Frank,\n\nyour account was locked after several"
                " failed attempts. I unlocked it; please reset the password with the link on"
                " the sign-in page.\n\nAlice"),
               (5, "reply", "frank", "Works again, thanks."),
               (6, "status", "alice", "resolved"),
               (180, "status", "alice", "closed"),
           ]),
    Script("damaged", "heidi", 35, E, "Order SO-482113 arrived damaged",
           "Hello,\n\nthe coffee grinder from order SO-482113 arrived with a cracked lid; the box"
           " was crushed. I would like a refund.\n\nHeidi Novak", "Billing", [
               (2, "tag", "bob", ["refund", "damaged"]),
               (4, "reply", "bob", "Dear Heidi,\n\nI am sorry. A refund of €89.90 is on its"
                " way; there is no need to send the grinder back.\n\nBob"),
               (30, "status", "bob", "resolved"),
               (200, "status", "bob", "closed"),
           ]),
    Script("new-hire", "dave", 30, P, "New employee starts Monday",
           "Hi,\n\nMaria Costa joins the Acme warehouse team on Monday. Please create her"
           " accounts.\n\nDave", "Support", [
               (1, "assign", "alice"),
               (6, "reply", "alice", "Hi Dave,\n\nMaria's accounts are ready; the welcome"
                " letter went to you.\n\nAlice"),
               (7, "status", "alice", "closed"),
           ]),
    Script("vpn-ru", "ivan", 28, E, "Не работает VPN",
           "Здравствуйте!\n\nС утра не могу подключиться к VPN, клиент выдаёт ошибку 809.\n\n"
           "Иван Петров", "Support", [
               (2, "reply", "alice", "Здравствуйте, Иван!\n\nМы обновили сертификат шлюза;"
                " пожалуйста, переподключитесь.\n\nAlice"),
               (4, "reply", "ivan", "Спасибо, всё работает."),
               (5, "status", "alice", "resolved"),
               (190, "status", "alice", "closed"),
           ]),
    Script("fatura", "grace", 25, E, "Segunda via da fatura INV-2024-0201",
           "Olá,\n\npreciso da segunda via da fatura INV-2024-0201 com o NIF da empresa.\n\n"
           "Obrigada,\nGrace", "Billing", [
               (3, "reply", "bob", "Olá Grace,\n\nenviámos a segunda via para o seu e-mail."
                "\n\nBob"),
               (4, "status", "bob", "closed"),
           ]),
    Script("vpn", "dave", 12, E, "VPN drops every few minutes",
           "Hi,\n\nsince the update on Tuesday the VPN client drops the connection every five"
           " minutes. I am working from Leeds this week.\n\nDave", "Support", [
               (1, "assign", "alice"),
               (2, "reply", "alice", "Hi Dave,\n\nwhich client version do you have? You find"
                " it under Help > About.\n\nAlice"),
               (5, "note", "alice", "Three more reports from the Leeds office; probably the"
                " gateway certificate again."),
               (6, "priority", "alice", "high"),
               (7, "tag", "alice", ["vpn", "network", "known-issue"]),
           ]),
    Script("vpn-again", "dave", 11.6, E, "VPN drops every few minutes (sent again)",
           "Sorry, sending this again because I got no confirmation: the VPN keeps dropping."
           "\n\nDave", "Support", [
               (1, "merge_into", "alice", "vpn"),
           ]),
    Script("printer", "erin", 6, P, "Printer on the 2nd floor jams",
           "Hi,\n\nthe LaserJet on the 2nd floor jams on every page and gets very hot. The log"
           " is attached.\n\nErin", "Support", [
               (1, "priority", "alice", "high"),
               (2, "reply", "alice", "Hi Erin,\n\nthe log shows a jam in tray 2 and an"
                " overheating fuser. Could you send a photo of the display?\n\nAlice"),
               (4, "reply", "erin", "Here is what the display shows.", (SCREENSHOT,)),
               (5, "note", "alice", "Fuser unit needs replacing; ordered part RM2-5425."),
               (72, "reply", "alice", "Hi Erin,\n\nthe technician replaced the fuser this"
                " morning. It should print fine again.\n\nAlice"),
               (73, "status", "alice", "resolved"),
               (74, "tag", "alice", ["printer", "hardware"]),
           ], (PRINTER_LOG,)),
    Script("csv", "frank", 4, P, "Feature request: export reports as CSV",
           "It would help us a lot if the monthly reports could be exported as CSV for our"
           " auditors.", "Support", [
               (3, "reply", "alice", "Hi Frank,\n\nthank you; I passed the idea to our product"
                " team.\n\nAlice"),
               (48, "status", "alice", "resolved"),
               (49, "tag", "alice", ["feature-request"]),
           ]),
    Script("refund", "heidi", 3.2, E, "Refund for order SO-771204",
           "Hello,\n\nI returned the headset from order SO-771204 two weeks ago and have not"
           " received the refund yet.\n\nHeidi", "Billing", [
               (2, "reply", "bob", "Dear Heidi,\n\nyour refund of €59.00 was issued today; it"
                " takes three to five business days.\n\nBob"),
               (40, "status", "bob", "resolved"),
           ]),
    Script("reset-link", "grace", 2.1, P, "Password reset link expired",
           "The reset link in the e-mail says it expired, although I clicked it right away.",
           "Support", [
               (1, "reply", "alice", "Hi Grace,\n\nI sent a new link; it is valid for 60"
                " minutes.\n\nAlice"),
               (20, "status", "alice", "resolved"),
           ]),
    Script("outlook", "erin", 4.8, E, "Outlook asks for my password every hour",
           "Outlook asks for my password every hour and then shows 0x800CCC0E.", "Support", [
               (2, "reply", "alice", "Hi Erin,\n\ncould you send a screenshot of the error and"
                " tell me your Outlook version?\n\nAlice"),
               (3, "status", "alice", "pending"),
           ]),
    Script("double-charge", "frank", 3, P, "Invoice INV-2024-0311 charged twice",
           "We were charged €1,240.00 twice for invoice INV-2024-0311. Please refund the"
           " duplicate.", "Billing", [
               (1, "priority", "bob", "high"),
               (2, "reply", "bob", "Hi Frank,\n\ncould you tell me the last four digits of the"
                " card and the dates of both charges?\n\nBob"),
               (3, "status", "bob", "pending"),
               (4, "tag", "bob", ["invoice", "billing"]),
           ]),
    Script("schet", "ivan", 2, E, "Счёт INV-2024-0330 оплачен дважды",
           "Мы случайно оплатили счёт INV-2024-0330 дважды. Прошу вернуть деньги.", "Billing", [
               (3, "reply", "bob", "Здравствуйте, Иван!\n\nПришлите, пожалуйста, номер"
                " платёжного поручения.\n\nBob"),
               (4, "status", "bob", "pending"),
           ]),
    Script("webhook", "carol", 1.1, API, "Webhook delivery failing with HTTP 502",
           "Our webhook endpoint receives HTTP 502 for every ticket event since yesterday.",
           "Support", [
               (2, "reply", "alice", "Hi Carol,\n\ndid the endpoint's TLS certificate change"
                " recently?\n\nAlice"),
               (3, "status", "alice", "pending"),
           ]),
    Script("battery", "dave", 3.9, P, "Laptop battery swelling",
           "The battery of my laptop (asset NB-20417) is bulging and the touchpad no longer"
           " clicks.", "Support", [
               (0.5, "priority", "alice", "urgent"),
               (1, "reply", "alice", "Hi Dave,\n\nplease stop using the laptop and unplug it."
                " Can a courier pick it up tomorrow morning?\n\nAlice"),
               (1.5, "note", "alice", "Swollen battery: safety issue, replacement device"
                " reserved."),
               (2, "status", "alice", "pending"),
               (2.5, "tag", "alice", ["laptop", "battery", "hardware"]),
           ]),
    Script("parcel", "heidi", 7, E, "Parcel 1Z999AA10123456784 not delivered",
           "The courier says the parcel was delivered, but I never received it.", "Billing", [
               (2, "assign", "bob"),
               (3, "note", "bob", "Asked the carrier for the proof of delivery."),
           ]),
    Script("impressora", "grace", 5, E, "Impressora não imprime",
           "A impressora da receção mostra o erro 50.4 e não imprime nada.", "Support", [
               (2, "reply", "alice", "Olá Grace,\n\npode desligar a impressora durante um"
                " minuto e tentar de novo?\n\nAlice"),
               (6, "reply", "grace", "Já tentei, o erro continua."),
           ]),
    Script("license", "erin", 2.9, P, "License key not accepted",
           "The license key we received for the label designer is rejected with error E-4031.",
           "Support", [
               (1, "assign", "alice"),
               (2, "reply", "alice", "Hi Erin,\n\nthat key was for version 5; here is one for"
                " version 6: LD6-7Q2K-99XM.\n\nAlice"),
               (5, "reply", "erin", "The new key gives error E-4032 now."),
           ]),
    Script("wifi", "dave", 1.9, A, "Wi-Fi in the meeting room is down",
           "Dave called: the Wi-Fi in the ground floor meeting room drops constantly; customer"
           " visit on Thursday.", "Support", [
               (0.1, "assign", "alice"),
               (0.2, "priority", "alice", "high"),
               (1, "note", "alice", "Access point AP-GF-02 shows many reboots."),
               (1.1, "tag", "alice", ["wifi", "network"]),
           ]),
    Script("vat", "frank", 0.9, E, "VAT number missing on invoice INV-2024-0342",
           "Our accounts department needs the invoice with our VAT number DE812345678.",
           "Billing", [
               (3, "assign", "bob"),
           ]),
    Script("shared-drive", "carol", 8, P, "No access to the shared drive",
           "I cannot open the shared drive on fileserver01; it says access denied.", "Support", [
               (2, "reply", "alice", "Hi Carol,\n\nyou now have access to the shared drive."
                "\n\nAlice"),
               (3, "status", "alice", "resolved"),
               (50, "reply", "carol", "Sorry, it still says access denied for the Finance"
                " folder."),
               (52, "note", "alice", "Finance folder has its own ACL; asked the owner."),
           ]),
    Script("where-order", "heidi", 0.2, E, "Where is my order SO-559031?",
           "My order SO-559031 should have arrived yesterday; tracking has not changed for four"
           " days.", "Billing"),
    Script("blank-pages", "erin", 0.1, P, "Cannot print invoices from the accounting PC",
           "Printing from the spreadsheet gives blank pages; other programs print fine.",
           "Support"),
    Script("pedido", "grace", 1, E, "Pedido SO-660914 ainda não chegou",
           "O meu pedido SO-660914 devia ter chegado na semana passada.", "Billing", [
               (2, "note", "bob", "Grace writes in Portuguese; answer in Portuguese."),
           ]),
    Script("api-502", "frank", 0.05, API, "Order API returns HTTP 502",
           "Every call to /orders returns HTTP 502 since 09:10.", "Support"),
    Script("akt", "ivan", 0.5, E, "Нужен акт сверки",
           "Пришлите, пожалуйста, акт сверки за прошлый квартал.", "Billing", [
               (1, "tag", "bob", ["billing"]),
           ]),
    Script("seats", "carol", 0.08, P, "Please add two more seats",
           "Two colleagues start next week; we need two more seats on our plan.", "Billing", [
               (0.5, "priority", "bob", "low"),
           ]),
]  # fmt: skip


class Clock:
    """Maps the moments the services stamped onto the times the script says they happened."""

    def __init__(self):
        self.real: list[datetime] = []
        self.meant: list[datetime] = []
        self.floor: datetime | None = None

    def at(self, meant: datetime) -> None:
        """What happens from now on happened at `meant`."""
        if self.floor is not None and meant <= self.floor:
            meant = self.floor + timedelta(minutes=1)  # a ticket's steps never swap places
        self.floor = meant
        self.real.append(utcnow())
        self.meant.append(meant)

    def next_ticket(self) -> None:
        """The next ticket's story may start before the previous one's ended."""
        self.floor = None

    def map(self, value: datetime | None) -> datetime | None:
        i = bisect.bisect_right(self.real, value) - 1 if value is not None else -1
        return value if i < 0 else self.meant[i] + (value - self.real[i])


def create_demo_data(echo=print) -> None:
    """On a fresh database: the demo accounts and ~30 tickets; otherwise print the logins."""
    if db.session.execute(select(User.id).limit(1)).first() is not None:
        echo("Demo data exists already.")
        _print_logins(echo)
        return
    now, clock = utcnow(), Clock()
    notify_here = current_app.config.get("OUTBOX_DISPATCH") != "none"
    try:
        clock.at(now - timedelta(days=60))  # the accounts and organizations
        people, teams = _create_people()
        _play(people, teams, clock, now)
        if notify_here:
            db.session.info.pop(outbox.SESSION_KEY, None)  # no background hand-off: see below
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if notify_here:
        # The notifications (only logged without MAIL_SERVER) run now, so that their log lines
        # come before the logins instead of burying them.
        while run_due(limit=500):
            pass
    echo(f"Created demo data: {len(ACCOUNTS)} accounts and {len(SCRIPTS)} tickets.")
    _print_logins(echo)


def _create_people() -> tuple[dict, dict[str, Team]]:
    organizations = {
        key: create_organization(name, [domain]) for key, (name, domain) in ORGANIZATIONS.items()
    }
    people: dict = {}
    for key, (role, email, name, group, _) in ACCOUNTS.items():
        org = organizations.get(group) if role == Role.CUSTOMER else None
        people[key] = create_user(email, DEMO_PASSWORD, role, name=name, organization=org)
    people["carol"].org_manager = True
    teams = {
        name: create_team(name, [u for k, u in people.items() if ACCOUNTS[k][3] == name])
        for name in ("Support", "Billing")
    }
    key, email, name = MAIL_ONLY
    people[key] = find_or_create_contact(email, name)
    return people, teams


def _actor(who) -> Actor:
    return Actor.for_user(who) if isinstance(who, User) else Actor.for_contact(who)


def _contact(who) -> Contact:
    return who.contact if isinstance(who, User) else who


def _play(people: dict, teams: dict[str, Team], clock: Clock, now: datetime) -> None:
    opened: dict[str, Ticket] = {}
    for script in sorted(SCRIPTS, key=lambda s: -s.days_ago):  # numbers follow the dates
        clock.next_ticket()
        start = now - timedelta(days=script.days_ago)
        clock.at(start)
        requester = people[script.requester]
        opener = people["alice"] if script.channel == Channel.AGENT else requester
        ticket = tickets.open_ticket(
            Actor.system() if script.channel == Channel.EMAIL else _actor(opener),
            requester=_contact(requester),
            subject=script.subject,
            body=script.body,
            channel=script.channel,
            team=teams.get(script.team),
            uploads=script.uploads,
        )
        opened[script.key] = ticket
        for hours, verb, who, *args in script.steps:
            clock.at(start + timedelta(hours=hours))
            actor = _actor(people[who])
            if verb in ("reply", "status") and actor.is_staff and ticket.assignee is None:
                _step(ticket, "assign", actor, (), opened, script.channel)  # takes it first
            _step(ticket, verb, actor, args, opened, script.channel)
    _backdate(clock)


def _step(ticket, verb, actor, args, opened, channel) -> None:
    if verb == "reply":
        uploads = args[1] if len(args) > 1 else ()
        reply_channel = Channel.AGENT if actor.is_staff else channel
        tickets.add_reply(ticket, actor, body=args[0], channel=reply_channel, uploads=uploads)
    elif verb == "note":
        tickets.add_note(ticket, actor, body=args[0])
    elif verb == "assign":
        agent = actor.user
        tickets.assign(ticket, actor, assignee=agent, team=agent.teams[0])
    elif verb == "status":
        tickets.change_status(ticket, actor, args[0])
    elif verb == "tag":
        tickets.tag(ticket, actor, add=args[0])
    elif verb == "priority":
        tickets.change_priority(ticket, actor, args[0])
    elif verb == "merge_into":
        tickets.merge(ticket, opened[args[0]], actor)
    else:
        raise ValueError(f"unknown demo step {verb!r}")


def _backdate(clock: Clock) -> None:
    db.session.flush()
    moves = {
        Ticket: ("created_at", "updated_at", "first_response_at", "resolved_at", "closed_at"),
        Message: ("created_at",),
        Attachment: ("created_at",),
        AuditEvent: ("created_at",),
        Participant: ("added_at",),
        User: ("created_at",),
        Contact: ("created_at",),
        Organization: ("created_at",),
    }
    for model, columns in moves.items():
        for row in db.session.execute(select(model)).scalars():
            for column in columns:
                setattr(row, column, clock.map(getattr(row, column)))
    db.session.flush()


def login_url() -> str:
    host = os.environ.get("HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # noqa: S104  (a wildcard is not an address to browse to)
        host = "127.0.0.1"
    return f"http://{host}:{os.environ.get('PORT') or '5000'}/login"


def _print_logins(echo) -> None:
    emails = [email for _, email, *_ in ACCOUNTS.values()]
    existing = set(db.session.scalars(select(User.email).where(User.email.in_(emails))))
    if not existing:
        return
    echo("")
    echo(f"Demo logins: sign in at {login_url()}")
    echo(f"  {'role':<9} {'e-mail':<23} {'password':<16} notes")
    for role, email, _, _, note in ACCOUNTS.values():
        if email in existing:
            echo(f"  {role:<9} {email:<23} {DEMO_PASSWORD:<16} {note}")
    echo("")
