"""The matching order, rule by rule, without any CRM: lookups are plain functions."""

from helpdesk.crm.matching import (
    Rule,
    company_domains,
    is_free_mail,
    match_company,
    match_contact,
    may_update_automatically,
    normalize_email,
    normalize_phone,
    normalize_tax_id,
)
from helpdesk.crm.protocol import CrmCompany, CrmContact

ANNA = CrmContact("11", "Anna", emails=("anna@acme.test", "a.petrova@acme.test"), phones=())
ANNA_TWIN = CrmContact("12", "Anna (old record)", emails=("Anna@ACME.test",))
BORIS = CrmContact("21", "Boris", emails=("boris@acme.test",), phones=("+7 (495) 123-45-67",))
LOOSE = CrmContact("31", "Annabelle", emails=("annabelle@acme.test",))
ACME = CrmCompany("501", "Acme", domains=("acme.test",), tax_id="7707083893")
ACME_EU = CrmCompany("502", "Acme Europe", domains=("acme.test",))


def lookups(contacts=(), companies=()):
    """Lookups over fixed records, recording what was asked."""
    asked = []

    def by_email(email):
        asked.append(("email", email))
        return [c for c in contacts if email in {normalize_email(e) for e in c.emails}] + [
            c for c in contacts if c is LOOSE
        ]

    def by_phone(phone):
        asked.append(("phone", phone))
        return [c for c in contacts if phone in {normalize_phone(p) for p in c.phones}]

    def by_domain(domain):
        asked.append(("domain", domain))
        return [c for c in companies if domain in c.domains]

    def by_tax_id(tax_id):
        asked.append(("tax_id", tax_id))
        return [c for c in companies if normalize_tax_id(c.tax_id) == tax_id]

    return asked, by_email, by_phone, by_domain, by_tax_id


def test_an_exact_address_matches_any_of_the_crm_contacts_addresses():
    asked, by_email, by_phone, *_ = lookups([ANNA, LOOSE])
    match = match_contact([" A.Petrova@Acme.test "], [], by_email, by_phone)
    assert (match.rule, match.external_id, match.confidence) == (Rule.EMAIL, "11", 1.0)
    assert match.record is ANNA
    assert asked == [("email", "a.petrova@acme.test")]  # no phone lookup after a hit


def test_a_loose_search_hit_without_the_exact_address_does_not_count():
    _, by_email, by_phone, *_ = lookups([LOOSE])
    assert match_contact(["anna@acme.test"], [], by_email, by_phone).external_id is None


def test_two_contacts_with_the_address_are_ambiguous_and_none_is_picked():
    _, by_email, by_phone, *_ = lookups([ANNA, ANNA_TWIN])
    match = match_contact(["anna@acme.test"], ["+74951234567"], by_email, by_phone)
    assert match.ambiguous
    assert match.external_id is None and match.confidence is None
    assert [c.external_id for c in match.candidates] == ["11", "12"]


def test_the_phone_number_is_tried_only_when_no_address_matches():
    asked, by_email, by_phone, *_ = lookups([BORIS])
    match = match_contact(["boris@home.test"], ["8 495 123 45 67"], by_email, by_phone, "RU")
    assert (match.rule, match.external_id) == (Rule.PHONE, "21")
    assert asked == [("email", "boris@home.test"), ("phone", "+74951234567")]


def test_nobody_matches_when_neither_address_nor_phone_is_known():
    _, by_email, by_phone, *_ = lookups([BORIS])
    match = match_contact(["who@else.test"], ["not a number"], by_email, by_phone)
    assert match.external_id is None and not match.ambiguous and match.rule is None


def test_the_company_of_the_matched_crm_contact_comes_first():
    asked, *_, by_domain, by_tax_id = lookups(companies=[ACME, ACME_EU])
    contact = CrmContact("11", "Anna", company_id="777")
    match = match_company(contact, ["anna@acme.test"], "7707083893", by_domain, by_tax_id)
    assert (match.rule, match.external_id) == (Rule.CONTACT_COMPANY, "777")
    assert asked == []


def test_a_unique_company_for_the_mail_domain_matches():
    *_, by_domain, by_tax_id = lookups(companies=[ACME])
    match = match_company(None, ["anna@acme.test"], None, by_domain, by_tax_id)
    assert (match.rule, match.external_id, match.confidence) == (Rule.DOMAIN, "501", 0.7)


def test_free_mail_domains_are_never_used_to_find_a_company():
    gmail = CrmCompany("900", "Somebody using gmail", domains=("gmail.com",))
    asked, *_, by_domain, by_tax_id = lookups(companies=[gmail])
    match = match_company(None, ["someone@GMail.com", "x@yandex.ru"], None, by_domain, by_tax_id)
    assert match.external_id is None
    assert asked == []
    assert is_free_mail("mail.ru") and not is_free_mail("acme.test")
    assert company_domains(["a@gmail.com", "b@acme.test", "c@Acme.test"]) == ["acme.test"]


def test_several_companies_for_a_domain_fall_back_to_the_tax_id():
    asked, *_, by_domain, by_tax_id = lookups(companies=[ACME, ACME_EU])
    match = match_company(None, ["anna@acme.test"], "77-0708 3893", by_domain, by_tax_id)
    assert (match.rule, match.external_id) == (Rule.TAX_ID, "501")
    assert asked == [("domain", "acme.test"), ("tax_id", "7707083893")]


def test_several_companies_and_no_tax_id_are_shown_as_ambiguous():
    *_, by_domain, by_tax_id = lookups(companies=[ACME, ACME_EU])
    match = match_company(None, ["anna@acme.test"], None, by_domain, by_tax_id)
    assert match.ambiguous and {c.external_id for c in match.candidates} == {"501", "502"}


def test_the_tax_id_alone_finds_the_company_of_a_free_mail_sender():
    *_, by_domain, by_tax_id = lookups(companies=[ACME])
    match = match_company(None, ["boss@gmail.com"], "7707083893", by_domain, by_tax_id)
    assert (match.rule, match.external_id, match.confidence) == (Rule.TAX_ID, "501", 0.9)


def test_a_link_an_agent_touched_is_never_changed_automatically():
    assert may_update_automatically(confirmed=False, set_by_agent=False, unlinked=False)
    assert not may_update_automatically(confirmed=True, set_by_agent=False, unlinked=False)
    assert not may_update_automatically(confirmed=False, set_by_agent=True, unlinked=False)
    assert not may_update_automatically(confirmed=False, set_by_agent=False, unlinked=True)


def test_numbers_and_tax_ids_are_compared_in_one_form():
    assert normalize_phone("+49 (30) 901820") == "+4930901820"
    assert normalize_phone("030 901820") is None  # no country code and no region
    assert normalize_phone("030 901820", "DE") == "+4930901820"
    assert normalize_tax_id(" de 123.456-789 ") == "DE123456789"
    assert normalize_email("mailto:Anna@Acme.TEST") == "anna@acme.test"
