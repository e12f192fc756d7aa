"""Refresh the message catalogs: extract every marked string (babel.cfg says where, and
helpdesk.i18n.CATALOG_KEYWORDS what), merge it into each language's .po, and compile the .mo
files. New strings arrive untranslated and changed ones fuzzy: translate them, then run this
again to compile. Run as `make messages`."""

import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpdesk.i18n import CATALOG_KEYWORDS  # noqa: E402

TRANSLATIONS = ROOT / "helpdesk" / "translations"
POT = TRANSLATIONS / "messages.pot"


def main() -> None:
    keywords = [arg for keyword in CATALOG_KEYWORDS for arg in ("-k", keyword)]
    cli = CommandLineInterface()
    cli.run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), *keywords]
        + ["--sort-output", "--no-location", "-o", str(POT), str(ROOT)]
    )
    cli.run(["pybabel", "-q", "update", "-i", str(POT), "-d", str(TRANSLATIONS)])
    cli.run(["pybabel", "-q", "compile", "-d", str(TRANSLATIONS)])


if __name__ == "__main__":
    main()
