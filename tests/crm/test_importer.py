"""`flask crm import`: CSV in the encodings and separators desktop CRMs write, and vCards."""

import json

from sqlalchemy import select

from helpdesk.contacts.models import Contact, Organization
from helpdesk.contacts.services import find_contact_by_email
from helpdesk.crm.importer import decode, read_rows, sniff_delimiter
from helpdesk.extensions import db


def run_import(runner, path, *options):
    result = runner.invoke(args=["crm", "import", str(path), *options])
    db.session.expire_all()
    return result


def organization(name: str) -> Organization:
    return db.session.execute(select(Organization).where(Organization.name == name)).scalar_one()


def test_a_utf8_comma_file_creates_contacts_and_organizations(runner, make, tmp_path):
    make.customer(email="old@acme.test", name="Old Name")
    db.session.commit()
    path = tmp_path / "clients.csv"
    path.write_text(
        "Name,E-mail,E-mail 2,Phone,Company,Website,Tax ID\n"
        'Anna Petrova,anna@acme.test,a.petrova@acme.test,"+49 30 901820",Acme GmbH,'
        "https://www.acme.test/,DE 123.456.789\n"
        "Old Name,old@acme.test,,,Acme GmbH,,\n"
        "Nobody,,,,,,\n"
        "Broken,not-an-address,,,,,\n"
        "Bad Phone,bad@phone.test,,12,,,\n",
        encoding="utf-8",
    )
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "5 row(s): 1 created, 1 updated, 3 rejected" in result.output
    assert "row 4: no e-mail address and no organization" in result.output
    assert "row 5: “not-an-address” is not a valid e-mail address." in result.output
    assert "row 6: “12” is not a phone number" in result.output
    anna = find_contact_by_email("a.petrova@acme.test")
    assert [e.email for e in anna.emails] == ["anna@acme.test", "a.petrova@acme.test"]
    assert [p.phone for p in anna.phones] == ["+4930901820"]
    acme = organization("Acme GmbH")
    assert anna.organization == acme and find_contact_by_email("old@acme.test").organization == acme
    assert (acme.tax_id, [d.domain for d in acme.domains]) == ("DE123456789", ["acme.test"])
    assert find_contact_by_email("bad@phone.test") is None  # a rejected row leaves nothing


def test_a_windows_1251_semicolon_export_is_read_as_such(runner, app, tmp_path):
    app.config["HELPDESK_CRM_PHONE_REGION"] = "RU"
    path = tmp_path / "клиенты.csv"
    text = (
        "ФИО;Эл. почта;Телефон;Компания;ИНН;Комментарий\r\n"
        "Иванов Пётр Сергеевич;petr@romashka.ru;8 (495) 123-45-67;ООО «Ромашка»;7707083893;\r\n"
        ";;+7 495 765-43-21;ООО «Ромашка»;7707083893;Ключевой клиент\r\n"
    )
    path.write_bytes(text.encode("cp1251"))
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "2 row(s): 1 created, 1 updated, 0 rejected" in result.output
    petr = find_contact_by_email("petr@romashka.ru")
    assert petr.name == "Иванов Пётр Сергеевич"
    assert [p.phone for p in petr.phones] == ["+74951234567"]
    romashka = organization("ООО «Ромашка»")
    assert petr.organization == romashka and romashka.tax_id == "7707083893"
    assert [p.phone for p in romashka.phones] == ["+74957654321"]
    assert romashka.notes == "Ключевой клиент"


def test_a_mapping_names_the_columns_and_a_dry_run_saves_nothing(runner, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Client;Mail 1;Mail 2;Firm\nZoe;zoe@zeta.test;zoe@home.test;Zeta\n")
    mapping = json.dumps({"name": "Client", "email": ["Mail 1", "Mail 2"], "organization": "Firm"})
    result = run_import(runner, path, "--mapping", mapping, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "1 row(s): 1 created, 0 updated, 0 rejected" in result.output
    assert "Dry run: nothing was saved." in result.output
    assert find_contact_by_email("zoe@zeta.test") is None
    result = run_import(runner, path, "--mapping", mapping)
    zoe = find_contact_by_email("zoe@home.test")
    assert zoe.name == "Zoe" and zoe.organization.name == "Zeta"
    bad = run_import(runner, path, "--mapping", '{"mail": "Mail 1"}')
    assert bad.exit_code == 1 and "Unknown field(s) in the mapping: mail" in bad.output


def test_vcards_of_several_versions_are_imported(runner, tmp_path):
    path = tmp_path / "contacts.vcf"
    path.write_bytes(
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Maria Garc\xc3\xada\r\nN:Garc\xc3\xada;Maria;;;\r\n"
        b"EMAIL;TYPE=INTERNET,WORK:maria@sol.test\r\nEMAIL;TYPE=HOME:maria@gmail.com\r\n"
        b"TEL;TYPE=CELL:+34 612 34 56 78\r\nORG:Sol S.L.;Ventas\r\n"
        b"NOTE:Prefers calls\\, not mail\r\n"
        b"UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:2.1\r\n"
        b"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=D0=9F=D0=B5=D1=82=D1=80=D0=BE=D0=B2;=\r\n"
        b"=D0=98=D0=B2=D0=B0=D0=BD;;;\r\nEMAIL;INTERNET:ivan@\r\n example.test\r\n"
        b"END:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:No Address\r\nTEL;VALUE=uri:tel:+1-555-0100\r\n"
        b"END:VCARD\r\n"
    )
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "3 row(s): 2 created, 0 updated, 1 rejected" in result.output
    assert "no e-mail address and no organization" in result.output
    maria = find_contact_by_email("maria@gmail.com")
    assert maria.name == "Maria García" and maria.organization.name == "Sol S.L."
    assert (maria.crm, maria.external_id) == (
        "import",
        "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1",
    )
    assert [p.phone for p in maria.phones] == ["+34612345678"]
    assert find_contact_by_email("ivan@example.test").name == "Иван Петров"


def test_an_address_owned_by_two_contacts_rejects_the_row(runner, make, tmp_path):
    make.customer(email="one@acme.test")
    make.customer(email="two@acme.test")
    db.session.commit()
    path = tmp_path / "merge.csv"
    path.write_text('email,name\n"one@acme.test; two@acme.test",Both\n')
    result = run_import(runner, path)
    assert "row 2: its addresses belong to different contacts" in result.output
    assert db.session.scalar(select(Contact).where(Contact.name == "Both")) is None


def test_encodings_and_separators_are_recognised():
    assert decode("Компания".encode("cp1251")) == "Компания"
    assert decode("\ufeffName".encode()) == "Name"
    assert sniff_delimiter("a;b;c,d\n") == ";" and sniff_delimiter("a,b\n") == ","
    rows = read_rows("x.txt", b"BEGIN:VCARD\nFN:A\nEMAIL:a@b.test\nEND:VCARD\n")
    assert rows[0].many("email") == ["a@b.test"]
