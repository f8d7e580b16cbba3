"""Languages without code: a catalog folder adds a language, even one Babel does not know."""

import datetime as dt
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.content import load_content
from bot.engine import Profile, step
from bot.message import Inbound

ROOT = Path(__file__).parents[1]


def tzotzil_pack(tmp_path: Path, complete: bool = True) -> Path:
    """An operator folder with a Tzotzil catalog (a stand-in text marks each string)."""
    with (ROOT / "locales" / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    catalog = Catalog(locale=None, project="Faro", fuzzy=False)
    catalog.language_team = "tzo"
    for i, message in enumerate(m for m in template if m.id):
        if complete or i % 2:
            forms = message.id if isinstance(message.id, tuple) else (message.id,)
            marked = tuple(f"[tzo] {form}" for form in forms)
            catalog.add(message.id, marked if isinstance(message.id, tuple) else marked[0])
    folder = tmp_path / "locales" / "tzo" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.po").open("wb") as fh:
        write_po(fh, catalog)
    langs = yaml.safe_load((ROOT / "flows" / "languages.yaml").read_text())
    langs["names"] = {"tzo": "Bats'i k'op"}
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "languages.yaml").write_text(yaml.safe_dump(langs))
    return tmp_path


def test_a_catalog_folder_adds_a_language_babel_does_not_know(tmp_path):
    content = load_content(tzotzil_pack(tmp_path))
    assert "tzo" in content.languages and content.names["tzo"] == "Bats'i k'op"
    menu = step(content, Profile(), None, Inbound("sms", "+5215500000000", text="hola"))
    options = [o.label for o in menu.replies[0].options]
    assert "Bats'i k'op" in options
    chosen = step(content, menu.profile, menu.state,
                  Inbound("sms", "+5215500000000", text=str(options.index("Bats'i k'op") + 1)))
    assert chosen.profile.lang == "tzo"
    emergency = step(content, chosen.profile, chosen.state,
                     Inbound("sms", "+5215500000000", text="5"), dt.date(2026, 11, 29))
    text = emergency.replies[0].text
    assert text.startswith("[tzo] In danger right now? Call 911.")
    # Babel has no Tzotzil data: dates fall back to the configured locale (Spanish).
    assert "29 nov 2026" in text


def test_an_incomplete_catalog_is_shipped_but_not_offered(tmp_path):
    content = load_content(tzotzil_pack(tmp_path, complete=False))
    assert "tzo" not in content.languages


def test_a_language_marked_incomplete_is_not_offered(tmp_path):
    pack = tzotzil_pack(tmp_path)
    langs = yaml.safe_load((pack / "flows" / "languages.yaml").read_text())
    langs["incomplete"] = ["tzo"]
    (pack / "flows" / "languages.yaml").write_text(yaml.safe_dump(langs))
    assert "tzo" not in load_content(pack).languages


def test_spanish_french_and_portuguese_have_babel_plural_forms():
    for lang in ("es", "fr", "pt"):
        path = ROOT / "locales" / lang / "LC_MESSAGES" / "messages.po"
        if not path.exists():
            continue
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        assert catalog.num_plurals == 3, lang


def test_plural_messages_use_each_languages_plural_forms():
    content = load_content()
    assert content.tn("es", "things_saved", 1) == "1 cosa guardada"
    assert content.tn("es", "things_saved", 7) == "7 cosas guardadas"
    assert content.tn("en", "things_saved", 1) == "1 thing saved"
    assert content.tn("fr", "things_saved", 0) == "0 élément enregistré"  # French: 0 is one
    assert content.tn("pt", "things_saved", 2) == "2 itens salvos"
    assert content.tn("ht", "things_saved", 3) == "3 bagay anrejistre"
