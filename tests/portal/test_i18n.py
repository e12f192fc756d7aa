"""Languages and time zones: chosen by ?lang=, a cookie, the profile or the browser; dates in
the customer's zone; the switcher works without JavaScript."""

import re
from datetime import datetime

from helpdesk.extensions import db
from helpdesk.settings import set_setting
from tests.conftest import PASSWORD
from tests.portal.conftest import deliver, mails_to, page


def _h1(html: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1).strip()


def test_lang_in_the_address_switches_and_is_remembered(client, signed_in):
    signed_in()
    response = client.get("/tickets?lang=pt_BR")
    assert _h1(page(response)) == "Minhas solicitações"
    assert "lang=pt_BR" in response.headers["Set-Cookie"]
    assert _h1(page(client.get("/tickets/new"))) == "Nova solicitação"  # from the cookie
    assert '<html lang="pt-BR">' in page(client.get("/tickets"))


def test_the_browser_language_is_used_when_nothing_was_chosen(client):
    russian = page(client.get("/signup", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}))
    assert _h1(russian) == "Создать учётную запись"
    portuguese = page(client.get("/signup", headers={"Accept-Language": "pt-PT,pt;q=0.9"}))
    assert _h1(portuguese) == "Criar uma conta"
    german = page(client.get("/signup", headers={"Accept-Language": "de-DE,de;q=0.9"}))
    assert _h1(german) == "Create an account"


def test_the_profile_language_applies_and_a_picked_one_wins(client, signed_in, make):
    signed_in(make.customer(locale="ru"))
    assert _h1(page(client.get("/tickets", headers={"Accept-Language": "en"}))) == "Мои обращения"
    client.get("/tickets?lang=en")
    assert _h1(page(client.get("/tickets"))) == "My requests"


def test_an_unknown_language_is_ignored(client):
    html = page(client.get("/signup?lang=xx", headers={"Accept-Language": "ru"}))
    assert _h1(html) == "Создать учётную запись"


def test_the_switcher_links_keep_the_page(client, signed_in):
    signed_in()
    html = page(client.get("/tickets?state=open"))
    assert 'href="/tickets?state=open&amp;lang=ru"' in html
    assert 'aria-current="true">English</a>' in html


def test_the_switcher_on_a_refused_form_points_back_to_the_form(client, signed_in):
    signed_in()
    html = page(client.post("/tickets/new", data={"subject": "", "body": "x"}))
    assert 'href="/tickets/new?lang=pt_BR"' in html


def test_error_messages_are_translated(client, signed_in):
    signed_in()
    response = client.post("/tickets/new?lang=ru", data={"subject": "", "body": "Текст"})
    assert response.status_code == 400
    html = page(response)
    assert "Укажите тему." in html and "Текст" in html
    other = page(client.get("/tickets/99999?lang=pt_BR"))
    assert "Não existe a solicitação #99999." in other


def test_dates_are_shown_in_the_customers_time_zone(client, signed_in, make):
    customer = make.customer(timezone="America/Sao_Paulo")
    ticket = make.ticket(requester=customer)
    ticket.created_at = ticket.updated_at = datetime(2026, 1, 15, 12, 0)
    signed_in(customer)
    html = page(client.get(f"/tickets/{ticket.number}"))
    assert "Jan 15, 2026, 9:00:00" in html  # 12:00 UTC is 09:00 in São Paulo
    assert "Times in America/Sao_Paulo." in html


def test_without_a_personal_zone_the_business_zone_applies(client, signed_in, make):
    set_setting("timezone", "Asia/Tokyo")
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    ticket.created_at = ticket.updated_at = datetime(2026, 1, 15, 12, 0)
    signed_in(customer)
    assert "Jan 15, 2026, 9:00:00\u202fPM" in page(client.get(f"/tickets/{ticket.number}"))


def test_dates_follow_the_language_too(client, signed_in, make):
    customer = make.customer(locale="pt_BR")
    ticket = make.ticket(requester=customer)
    ticket.created_at = ticket.updated_at = datetime(2026, 1, 15, 12, 0)
    signed_in(customer)
    assert "15 de jan. de 2026" in page(client.get(f"/tickets/{ticket.number}"))


def test_the_profile_sets_name_language_and_zone(client, signed_in):
    user = signed_in()
    html = page(client.get("/account"))
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in html
    response = client.post(
        "/account", data={"name": "Renamed", "locale": "ru", "timezone": "Europe/Berlin"}
    )
    assert response.status_code == 302
    assert "lang=ru" in response.headers["Set-Cookie"]
    db.session.refresh(user)
    assert (user.name, user.locale, user.timezone) == ("Renamed", "ru", "Europe/Berlin")
    assert user.contact.name == "Renamed"
    assert "Настройки сохранены." in page(client.get("/account"))


def test_the_profile_refuses_an_unknown_zone_and_keeps_the_input(client, signed_in):
    signed_in()
    response = client.post("/account", data={"name": "Kept", "locale": "", "timezone": "Nowhere"})
    assert response.status_code == 400
    assert "Please choose a time zone from the list." in page(response)
    assert 'value="Kept"' in page(response)


def test_account_mails_go_out_in_the_language_of_the_page(client, smtp):
    client.post("/signup?lang=pt_BR", data={"email": "ana@example.test", "name": "Ana"})
    deliver()
    [mail] = mails_to(smtp, "ana@example.test")
    assert mail["Subject"] == "Confirme seu endereço de e-mail"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Olá, Ana," in text and "O link funciona por 2 dias." in text


def test_a_new_account_keeps_the_language_picked_before_sign_up(client, smtp):
    client.get("/signup?lang=ru")
    client.post("/signup", data={"email": "ivan@example.test", "name": "Ivan"})
    deliver()
    [mail] = mails_to(smtp, "ivan@example.test")
    path = re.search(
        r"http://[^/\s]+(/signup/confirm/\S+)", mail.get_body(("plain",)).get_content()
    )
    client.post(path.group(1), data={"password": PASSWORD})
    from helpdesk.accounts.services import find_user_by_email

    assert find_user_by_email("ivan@example.test").locale == "ru"
