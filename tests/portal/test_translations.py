"""The message catalogs: complete for every language, placeholders intact, and the compiled
.mo files the app loads match their .po sources."""

from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

import helpdesk
from helpdesk.i18n import CATALOG_KEYWORDS

TRANSLATIONS = Path(helpdesk.__file__).parent / "translations"
LOCALES = ["pt_BR", "ru"]


def _catalog(locale: str):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(locale):
    catalog = _catalog(locale)
    untranslated = [
        m.id
        for m in catalog
        if m.id and (not all(m.string) if isinstance(m.id, tuple) else not m.string)
    ]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert untranslated == [] and fuzzy == []
    assert len([m for m in catalog if m.id]) > 150


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_every_placeholder(locale):
    catalog = _catalog(locale)
    assert [(m.id, e) for m in catalog if m.id for e in m.check(catalog)] == []


@pytest.mark.parametrize("locale", LOCALES)
def test_every_template_message_is_in_the_catalog(locale):
    with open(TRANSLATIONS / "messages.pot", "rb") as handle:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    have = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalog(locale) if m.id}
    assert template - have == set()


@pytest.mark.parametrize("locale", LOCALES)
def test_the_compiled_catalog_is_up_to_date(locale, tmp_path):
    compiled = tmp_path / "messages.mo"
    with open(compiled, "wb") as handle:
        write_mo(handle, _catalog(locale))
    shipped = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo"
    assert shipped.read_bytes() == compiled.read_bytes(), (
        "run: .venv/bin/pybabel compile -d helpdesk/translations"
    )


def test_the_catalog_template_has_every_string_of_the_source(tmp_path):
    """A string wrapped in _() but missing here would show in English to every customer."""
    from babel.messages.frontend import CommandLineInterface

    root = TRANSLATIONS.parents[1]
    fresh = tmp_path / "messages.pot"
    keywords = [arg for keyword in CATALOG_KEYWORDS for arg in ("-k", keyword)]
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(root / "babel.cfg"), *keywords]
        + ["-o", str(fresh), str(root)]
    )
    with open(fresh, "rb") as handle:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    with open(TRANSLATIONS / "messages.pot", "rb") as handle:
        have = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    assert len(wanted) > 150
    assert wanted - have == set(), "run make messages, then translate what it added"
