"""Names, topics and message templates for seed data, in English, Portuguese and Russian.

Templates carry slots ({order}, {error}, …) filled with random values, so full-text search
finds both common words ("printer", "invoice") and rare ones (an order or tracking number).
"""

import random
import unicodedata
from dataclasses import dataclass

TEAMS = ("Support", "Billing", "Shipping", "IT")

GENERIC_TAGS = ("vip", "escalated", "known-issue", "follow-up", "duplicate", "feedback")
TAGS = (
    "printer", "hardware", "toner", "invoice", "billing", "vat", "password", "login",
    "account-locked", "vpn", "network", "remote-work", "delivery", "shipping", "order",
    "tracking", "refund", "returns", "damaged", "email", "outlook", "spam", "license",
    "software", "laptop", "battery", "onboarding", "access", "subscription", "cancellation",
    "bug", "mobile-app", "checkout", "feature-request", "gdpr", "privacy", "wifi",
) + GENERIC_TAGS  # fmt: skip

ORG_PREFIXES = (
    "Acme", "Globex", "Initech", "Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip",
    "Litware", "Proseware", "Blue Yonder", "Coho", "Alpine", "Lucerne", "Woodgrove", "Trey",
    "Vandelay", "Hooli", "Soylent", "Cyberdyne", "Tyrell", "Monarch", "Oceanic", "Ipanema",
    "Sertão", "Douro", "Volga", "Baikal", "Nordlys", "Kestrel",
)  # fmt: skip
ORG_NOUNS = (
    "Logistics", "Foods", "Dental", "Legal", "Architects", "Bakery", "Hotels", "Pharma",
    "Motors", "Textiles", "Consulting", "Insurance", "Printing", "Energy", "Clinics", "Retail",
    "Travel", "Robotics", "Media", "Farms",
)  # fmt: skip
FREEMAIL_DOMAINS = ("mailbox.example", "postmail.example", "correio.example", "pochta.example")

EN_FIRST = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Emily", "Andrew",
    "Olivia", "Noah", "Emma", "Liam", "Sophia", "Lucas", "Priya", "Ahmed", "Mei", "Hiroshi",
    "Fatima", "Kwame", "Ingrid", "Lars", "Chiara", "Zoë",
)  # fmt: skip
EN_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White",
    "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Carter", "Patel",
    "Nguyen", "Kim", "Müller", "Schmidt", "Rossi", "Dubois", "Jansen", "Novak", "Kowalski",
    "O'Brien",
)  # fmt: skip
PT_FIRST = (
    "João", "Maria", "José", "Ana", "Pedro", "Beatriz", "Luís", "Inês", "Tiago", "Mariana",
    "Rafael", "Carolina", "Gonçalo", "Leonor", "Diogo", "Sofia", "Bruno", "Camila", "Thiago",
    "Larissa",
)  # fmt: skip
PT_LAST = (
    "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
    "Sousa", "Fernandes", "Gonçalves", "Gomes", "Lopes", "Marques", "Alves", "Almeida", "Ribeiro",
    "Pinto", "Carvalho", "Teixeira",
)  # fmt: skip
# (Cyrillic, Latin, female?) and surnames in their male form; a female one adds "а"/"a".
RU_FIRST = (
    ("Иван", "ivan", False), ("Ольга", "olga", True), ("Дмитрий", "dmitry", False),
    ("Анна", "anna", True), ("Сергей", "sergey", False), ("Наталья", "natalya", True),
    ("Алексей", "alexey", False), ("Екатерина", "ekaterina", True), ("Михаил", "mikhail", False),
    ("Татьяна", "tatyana", True),
)  # fmt: skip
RU_LAST = (
    ("Иванов", "ivanov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"), ("Попов", "popov"),
    ("Соколов", "sokolov"), ("Лебедев", "lebedev"), ("Козлов", "kozlov"),
    ("Новиков", "novikov"), ("Морозов", "morozov"), ("Волков", "volkov"),
)  # fmt: skip


@dataclass(frozen=True)
class Person:
    name: str
    first: str
    local: str  # the address's local part, ASCII
    lang: str


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def person(rng: random.Random, english_only: bool = False) -> Person:
    """A random person; mostly English names, some Portuguese and Russian ones."""
    roll = 0.0 if english_only else rng.random()
    if roll < 0.7:
        first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
        return Person(f"{first} {last}", first, f"{_ascii(first)}.{_ascii(last)}", "en")
    if roll < 0.85:
        first, last = rng.choice(PT_FIRST), rng.choice(PT_LAST)
        return Person(f"{first} {last}", first, f"{_ascii(first)}.{_ascii(last)}", "pt")
    first, first_latin, female = rng.choice(RU_FIRST)
    last, last_latin = rng.choice(RU_LAST)
    if female:
        last, last_latin = last + "а", last_latin + "a"
    return Person(f"{first} {last}", first, f"{first_latin}.{last_latin}", "ru")


@dataclass(frozen=True)
class Case:
    """A request as it typically starts, and the agent's first answer."""

    subject: str
    body: str
    reply: str


@dataclass(frozen=True)
class Topic:
    team: str
    lang: str
    tags: tuple[str, ...]
    cases: tuple[Case, ...]


def _t(team: str, lang: str, tags: str, *cases: tuple[str, str, str]) -> Topic:
    return Topic(team, lang, tuple(tags.split()), tuple(Case(*c) for c in cases))


TOPICS = (
    _t("IT", "en", "printer hardware toner",
       ("Printer on the {floor} floor keeps jamming",
        "Since this morning the {printer} on the {floor} floor jams after every page with error"
        " {error}. We switched it off and on again. The fuser gets very hot.",
        "Error {error} on the {printer} usually means the paper path is blocked. Please open the"
        " rear duplexer cover and remove any torn paper. If it persists, a technician will come"
        " on {weekday}."),
       ("Cannot print invoices from the accounting PC",
        "Printing from the spreadsheet gives blank pages on the {printer}; other programs print"
        " fine. Could you have a look before the monthly closing on {weekday}?",
        "The printer driver on the accounting PC was outdated; I pushed version {version}."
        " Please print a test page."),
       ("Toner for the {printer} is empty",
        "The {printer} says the toner is empty and the spare cartridge is gone too.",
        "A new toner cartridge for the {printer} is on its way and should arrive by {weekday}.")),
    _t("Billing", "en", "invoice billing vat",
       ("Invoice {invoice} charged twice",
        "We were charged {amount} twice for invoice {invoice}. Please refund the duplicate.",
        "I checked invoice {invoice}: the second charge of {amount} is a pre-authorization and"
        " will be released within five business days."),
       ("VAT number missing on invoice {invoice}",
        "Our accounts department needs a corrected invoice {invoice} showing our VAT number"
        " {vat}; the proforma we received had the old address.",
        "A corrected invoice {invoice} with VAT number {vat} is now in your account.")),
    _t("IT", "en", "password login account-locked",
       ("Cannot log in after password reset",
        "I reset my password yesterday but the new one is not accepted. The page says my"
        " e-mail address or password is wrong.",
        "Your account was locked after several attempts with the old password; I unlocked it."),
       ("Password reset link expired",
        "The reset link in the e-mail says it expired, although I clicked it right away.",
        "I sent a new reset link; it is valid for 60 minutes. Please open it in a private"
        " browser window in case the old page is cached.")),
    _t("IT", "en", "vpn network remote-work",
       ("VPN disconnects every few minutes",
        "Since the update the VPN client drops the connection every five minutes with error"
        " {error}. I am working from {city} this week.",
        "The certificate for the {city} gateway had expired; it has been renewed. Please"
        " reconnect."),
       ("Cannot reach {host} over the VPN",
        "I can connect to the VPN but {host} does not resolve. Kerberos tickets seem to expire.",
        "Please update the VPN client to version {version}; the split-tunnel setting for {host}"
        " was fixed there.")),
    _t("Shipping", "en", "delivery shipping order tracking",
       ("Where is my order {order}?",
        "My order {order} should have arrived on {weekday}, but tracking number {tracking} has"
        " not changed for four days.",
        "I contacted the carrier about {tracking}: the parcel is at the {city} depot and will be"
        " delivered on {weekday}."),
       ("Parcel {tracking} not delivered",
        "The courier says parcel {tracking} was delivered, but nobody at our {city} office"
        " received it.",
        "The carrier could not find parcel {tracking}; we are sending order {order} again free"
        " of charge.")),
    _t("Billing", "en", "refund returns damaged",
       ("Refund for order {order}",
        "I returned the {product} from order {order} three weeks ago and have not received the"
        " refund of {amount} yet.",
        "Your refund of {amount} for order {order} was issued today; depending on your bank it"
        " takes three to five business days."),
       ("Return of a damaged {product}",
        "The {product} arrived damaged; the box was crushed. I would like a replacement or a"
        " refund, otherwise I will file a chargeback.",
        "Sorry about that. Please keep the damaged {product}; a replacement left our warehouse"
        " today.")),
    _t("IT", "en", "email outlook spam",
       ("Outlook keeps asking for my password",
        "Outlook asks for my password every hour and then shows {error}.",
        "Please remove the cached credentials in the credential manager and sign in again;"
        " error {error} should be gone."),
       ("Mails to the {city} office bounce",
        "Every mail I send to the {city} office comes back with '550 mailbox unavailable'.",
        "The shared mailbox in {city} was full; I raised its quota and the bounces stop now.")),
    _t("Support", "en", "license software",
       ("License key for {product} not accepted",
        "The license key we received for {product} is rejected with {error}.",
        "That key was issued for version {version}; I have sent you one for the current"
        " release."),
       ("Need two more seats",
        "Two colleagues are starting on {weekday}; we need two more seats on our plan.",
        "I added two seats to your subscription; the prorated amount is {amount}.")),
    _t("IT", "en", "laptop battery hardware",
       ("Laptop battery swelling",
        "The battery of my laptop (asset tag {asset}) is bulging and the touchpad no longer"
        " clicks.",
        "Please stop using the laptop and unplug it; a courier will swap it on {weekday}."),
       ("Screen flickering on my laptop",
        "The screen flickers whenever the laptop is on battery. Asset tag {asset}.",
        "A firmware update for asset {asset} fixes the flicker; it installs tonight.")),
    _t("Support", "en", "onboarding access",
       ("New employee starting {weekday} needs accounts",
        "A new colleague starts on {weekday} in {city}; please create mail and ERP accounts.",
        "The accounts are ready; the welcome letter with the first password went to the"
        " manager."),
       ("Access to the shared drive",
        "I cannot open the shared drive on {host}; it says access denied.",
        "You now have read and write access to the shared drive on {host}.")),
    _t("Billing", "en", "subscription cancellation billing",
       ("Cancel my subscription",
        "Please cancel our subscription at the end of the month and confirm in writing.",
        "Your subscription ends at the end of the month; you will not be charged again."),
       ("Downgrade to the basic plan",
        "We would like to move to the basic plan from next month; this month we were billed"
        " {amount}.",
        "Done: the basic plan applies from your next invoice.")),
    _t("Support", "en", "bug mobile-app checkout",
       ("App crashes when uploading photos",
        "The mobile app crashes every time I upload a photo from the gallery (version"
        " {version}).",
        "Thanks for the report; the next version fixes the crash and is in the store now."),
       ("Error {error} at checkout",
        "At checkout the web shop shows {error} and order {order} is not placed, but my card"
        " was charged {amount}.",
        "Order {order} went through after all; the duplicate authorization of {amount} will be"
        " released.")),
    _t("Support", "en", "feature-request feedback",
       ("Feature request: export to CSV",
        "It would help us a lot if the reports could be exported as CSV for our auditors.",
        "Thank you; I passed the idea to our product team and will update you here."),
       ("Suggestion for the customer portal",
        "Could the portal show the expected delivery date next to each order?",
        "Good idea; it is on the roadmap for the next quarter.")),
    _t("Support", "en", "gdpr privacy",
       ("Request for data export",
        "Under the GDPR I would like a copy of all personal data you hold about me.",
        "Your data export is ready; the download link is valid for seven days."),
       ("Please delete my personal data",
        "Please delete my account and personal data; my customer number is {customer}.",
        "Your personal data has been erased; invoices are kept for ten years as the law"
        " requires.")),
    _t("IT", "en", "wifi network",
       ("Wi-Fi in the {city} meeting room is down",
        "The Wi-Fi in the {city} meeting room drops constantly; we have a customer visit on"
        " {weekday}.",
        "The access point in the meeting room was replaced; please check again."),
       ("Guest Wi-Fi password",
        "What is the guest Wi-Fi password for the visitors on {weekday}?",
        "The guest network password for this week is on the display at the reception.")),
    _t("Shipping", "pt", "delivery order tracking",
       ("Pedido {order} ainda não chegou",
        "O meu pedido {order} devia ter chegado na semana passada e o rastreio {tracking} não"
        " muda há dias.",
        "Contactei a transportadora: a encomenda {tracking} está no armazém de {city} e será"
        " entregue amanhã."),
       ("Encomenda entregue no endereço errado",
        "A encomenda {tracking} foi entregue noutra morada em {city}. Podem verificar?",
        "Vamos reenviar o pedido {order} sem custos.")),
    _t("Billing", "pt", "invoice billing refund",
       ("Segunda via da fatura {invoice}",
        "Preciso da segunda via da fatura {invoice} com o NIF da empresa.",
        "Enviámos a segunda via da fatura {invoice} para o seu e-mail."),
       ("Cobrança duplicada no cartão",
        "Fui cobrado duas vezes no cartão pelo valor de {amount}. Peço o reembolso.",
        "O reembolso de {amount} foi processado e aparece no extrato em até cinco dias úteis.")),
    _t("IT", "pt", "password printer login",
       ("Não consigo aceder à minha conta",
        "Mudei a senha ontem e agora o sistema diz que a senha está errada.",
        "Desbloqueei a sua conta; por favor defina uma nova senha pelo link enviado."),
       ("Impressora não imprime",
        "A impressora {printer} mostra o erro {error} e não imprime nada.",
        "O técnico vai trocar o fusor da impressora {printer} amanhã de manhã.")),
    _t("IT", "ru", "vpn network password",
       ("Не работает VPN",
        "С утра не могу подключиться к VPN, клиент выдаёт ошибку {error}.",
        "Мы обновили сертификат шлюза; пожалуйста, переподключитесь."),
       ("Ошибка {error} при входе в систему",
        "После смены пароля система пишет «неверный пароль», хотя я ввожу новый.",
        "Учётная запись разблокирована, ссылка для смены пароля отправлена на почту.")),
    _t("Billing", "ru", "invoice billing refund",
       ("Счёт {invoice} оплачен дважды",
        "Мы случайно оплатили счёт {invoice} дважды на сумму {amount}. Прошу вернуть деньги.",
        "Возврат {amount} по счёту {invoice} оформлен, деньги придут в течение пяти дней."),
       ("Нужен акт сверки",
        "Пришлите, пожалуйста, акт сверки за прошлый квартал.",
        "Акт сверки отправлен вам на почту.")),
    _t("Shipping", "ru", "delivery order damaged",
       ("Где мой заказ {order}?",
        "Заказ {order} должен был прийти на прошлой неделе, трек-номер {tracking} не"
        " обновляется.",
        "Посылка {tracking} находится на складе, доставка завтра."),
       ("Товар пришёл повреждённым",
        "Коробка была смята, {product} разбит. Прошу заменить товар.",
        "Замена отправлена сегодня, старый товар можно не возвращать.")),
)  # fmt: skip
_BY_LANG = {lang: [t for t in TOPICS if t.lang == lang] for lang in ("en", "pt", "ru")}

GREETINGS = {
    "en": ("Hello,", "Hi,", "Good morning,", "Dear support team,"),
    "pt": ("Olá,", "Bom dia,", "Boa tarde,"),
    "ru": ("Здравствуйте!", "Добрый день,"),
}
SIGN_OFFS = {
    "en": ("Thanks,", "Best regards,", "Kind regards,", "Cheers,"),
    "pt": ("Obrigado,", "Atenciosamente,", "Cumprimentos,"),
    "ru": ("Спасибо,", "С уважением,"),
}
AGENT_SIGN_OFFS = {
    "en": "Kind regards,",
    "pt": "Com os melhores cumprimentos,",
    "ru": "С уважением,",
}
AGENT_GREETINGS = {"en": "Hi {name},", "pt": "Olá {name},", "ru": "Здравствуйте, {name}!"}
FOLLOW_UPS = {
    "en": (
        "Thanks for the quick answer. Unfortunately the problem is back since {weekday}.",
        "I tried that but it did not help; now it says {error}.",
        "That worked for me, but my colleague in {city} still has the issue.",
        "Here are the details you asked for. It happened again on {weekday} at 9:40.",
    ),
    "pt": ("Obrigado pela resposta, mas o problema continua.", "Já tentei, o erro continua."),
    "ru": ("Спасибо за ответ, но проблема осталась.", "Попробовал, не помогло."),
}
# A second message before anyone answered.
NUDGES = {
    "en": ("Any news on this? It is getting urgent for us.", "One more detail: {error}."),
    "pt": ("Alguma novidade? Precisamos de uma solução urgente.",),
    "ru": ("Есть новости? Вопрос срочный.",),
}
AGENT_FOLLOW_UPS = {
    "en": (
        "Could you send a screenshot of the exact error message and the time it happened?",
        "Thank you for your patience. Our second-level team in {city} is looking into it.",
        "I have escalated this and will get back to you by {weekday}.",
    ),
    "pt": ("Pode enviar uma captura de ecrã do erro?", "Estamos a analisar e voltamos em breve."),
    "ru": ("Пришлите, пожалуйста, снимок экрана с ошибкой.", "Мы разбираемся и скоро ответим."),
}
RESOLUTIONS = {
    "en": "This should be fixed now, so I am marking the request as solved. Just reply if not.",
    "pt": "Consideramos o pedido resolvido; responda a este e-mail se algo ainda falhar.",
    "ru": "Считаем вопрос решённым; если что-то не так, просто ответьте на это письмо.",
}
NOTES = (
    "Called the customer, no answer. Will try again on {weekday}.",
    "Same symptom as ticket about {error} last month; probably a known issue.",
    "Escalated to second level; logs from {host} are in the wiki.",
    "Key account: handle with priority and keep the account manager informed.",
    "Checked the payment provider: transaction {txn} settled on {weekday}.",
    "Waiting for the carrier's reply about {tracking}.",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
CITIES = ("Lisbon", "Porto", "Berlin", "Leeds", "Boston", "Toronto", "Kazan", "Novosibirsk",
          "São Paulo", "Curitiba", "Rotterdam", "Lyon")  # fmt: skip
PRINTERS = ("LaserJet M404dn", "HL-L2350DW", "WorkCentre 6515", "ECOSYS P2235dn", "imageCLASS")
PRODUCTS = ("coffee grinder", "office chair", "standing desk", "headset", "monitor arm",
            "label printer", "router", "webcam", "docking station")  # fmt: skip
ERRORS = ("0x80070005", "0x800CCC0E", "ERR_CONNECTION_RESET", "SSL_ERROR_BAD_CERT_DOMAIN",
          "E-{n}", "code {n}", "VPN-{n}", "HTTP 502")  # fmt: skip
HOSTS = ("fileserver01", "erp", "intranet", "sap-prod", "nas2", "crm", "wiki")


def _money(r: random.Random) -> str:
    return f"{r.choice('€$£')}{r.randrange(5, 2_000)}.{r.randrange(100):02d}"


SLOTS = {
    "order": lambda r: f"SO-{r.randrange(100_000, 1_000_000)}",
    "invoice": lambda r: f"INV-{r.randrange(2023, 2027)}-{r.randrange(10_000, 100_000)}",
    "tracking": lambda r: f"1Z{r.randrange(16**10):010X}",
    "amount": _money,
    "vat": lambda r: f"{r.choice(('PT', 'DE', 'GB', 'NL'))}{r.randrange(10**8, 10**9)}",
    "error": lambda r: r.choice(ERRORS).format(n=r.randrange(100, 10_000)),
    "host": lambda r: f"{r.choice(HOSTS)}.corp.example",
    "version": lambda r: f"{r.randrange(3, 7)}.{r.randrange(10)}.{r.randrange(20)}",
    "city": lambda r: r.choice(CITIES),
    "weekday": lambda r: r.choice(WEEKDAYS),
    "floor": lambda r: r.choice(("first", "second", "third", "ground")),
    "printer": lambda r: r.choice(PRINTERS),
    "product": lambda r: r.choice(PRODUCTS),
    "asset": lambda r: f"NB-{r.randrange(10_000, 100_000)}",
    "customer": lambda r: f"C{r.randrange(100_000, 1_000_000)}",
    "txn": lambda r: f"ch_{r.randrange(16**12):012x}",
}


class _Slots(dict):
    """Slot values made on first use, then kept: a thread repeats its order number."""

    def __init__(self, rng: random.Random):
        super().__init__()
        self.rng = rng

    def __missing__(self, key):
        value = self[key] = SLOTS[key](self.rng)
        return value


def pick_topic(rng: random.Random, lang: str) -> Topic:
    """Most Portuguese and Russian speakers write in their language; everyone else in English."""
    return rng.choice(_BY_LANG[lang] if lang != "en" and rng.random() < 0.7 else _BY_LANG["en"])


class Conversation:
    """The subject and message bodies of one ticket."""

    def __init__(self, rng: random.Random, topic: Topic, customer: Person, agent: Person | None):
        self.rng, self.topic, self.customer, self.agent = rng, topic, customer, agent
        self.slots = _Slots(rng)
        self.case = rng.choice(topic.cases)
        self.subject = self._fill(self.case.subject)
        self.replied = False

    def _fill(self, template: str) -> str:
        return template.format_map(self.slots)

    def message(self, kind: str, index: int, resolving: bool) -> str:
        rng, lang = self.rng, self.topic.lang
        if kind == "n":
            return self._fill(rng.choice(NOTES))
        if kind == "c":
            if index == 0:
                text = self.case.body
            else:
                text = rng.choice(FOLLOW_UPS[lang] if self.replied else NUDGES[lang])
            return (
                f"{rng.choice(GREETINGS[lang])}\n\n{self._fill(text)}\n\n"
                f"{rng.choice(SIGN_OFFS[lang])}\n{self.customer.name}"
            )
        text = self._fill(rng.choice(AGENT_FOLLOW_UPS[lang]) if self.replied else self.case.reply)
        self.replied = True
        if resolving:
            text += "\n\n" + RESOLUTIONS[lang]
        agent = self.agent.name if self.agent else "Support"
        greeting = AGENT_GREETINGS[lang].format(name=self.customer.first)
        return f"{greeting}\n\n{text}\n\n{AGENT_SIGN_OFFS[lang]}\n{agent}"
