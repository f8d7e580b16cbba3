"""Content packs: validation names the file and node; overlays, checks, diagrams, catalogs."""

import datetime as dt
import re
import shutil
from io import BytesIO
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po, write_po
from click.testing import CliRunner

from bot.cli import main
from bot.content import load_content
from bot.content.check import check
from bot.content.diagram import mermaid
from bot.content.extract import extract_flow
from bot.errors import ContentError

FIXTURE = Path(__file__).parent / "fixtures" / "pack"
ROOT = Path(__file__).parents[1]


@pytest.fixture
def pack_dir(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "pack")
    return tmp_path / "pack"


def edit(pack_dir, name, change):
    path = pack_dir / "flows" / name
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return str(path)


def po(path):
    with path.open("rb") as fh:
        return read_po(fh)


def problems(pack_dir):
    with pytest.raises(ContentError) as info:
        load_content(base=pack_dir)
    return str(info.value)


def test_the_bundled_pack_is_valid_and_offers_its_complete_languages_spanish_first():
    content = load_content()
    assert content.languages[:2] == ["es", "en"]
    assert set(content.languages) <= {"es", "en", "fr", "ht", "pt"}
    assert {"welcome", "menu", "emergency", "settings"} <= set(content.flows)


def test_unknown_node_type_names_file_and_node(pack_dir):
    path = edit(pack_dir, "intake.yaml", lambda d: d["nodes"]["name"].update(type="poem"))
    assert f"{path}: node 'name'" in problems(pack_dir)


def test_missing_target_names_file_and_node(pack_dir):
    path = edit(pack_dir, "intake.yaml", lambda d: d["nodes"]["people"].update(next="nowhere"))
    assert f"{path}: node 'people': next leads to unknown node 'nowhere'" in problems(pack_dir)


def test_missing_text_names_file_and_node(pack_dir):
    path = edit(pack_dir, "intake.yaml", lambda d: d["nodes"]["done"].pop("text"))
    found = problems(pack_dir)
    assert f"{path}: node 'done'" in found and "text" in found


def test_unreachable_node_names_file_and_node(pack_dir):
    path = edit(pack_dir, "intake.yaml", lambda d: d["nodes"].update(
        orphan={"type": "message", "text": "Nobody sees me", "next": "done"}))
    assert f"{path}: node 'orphan' cannot be reached" in problems(pack_dir)


def test_unknown_fact_placeholder_is_an_error(pack_dir):
    path = edit(pack_dir, "menu.yaml", lambda d: d["nodes"]["hotline"].update(
        text="Call {facts.hotline.fax}."))
    assert f"{path}: node 'hotline': placeholder {{facts.hotline.fax}}" in problems(pack_dir)


def test_a_fact_still_to_verify_cannot_be_shown(pack_dir):
    path = edit(pack_dir, "menu.yaml", lambda d: d["nodes"]["hotline"].update(
        text="Call {facts.secret_line.phone}.", facts=["secret_line"]))
    assert f"{path}: node 'hotline': fact 'secret_line' is to_verify" in problems(pack_dir)


def test_yes_no_question_needs_both_branches(pack_dir):
    path = edit(pack_dir, "settings.yaml", lambda d: d["nodes"]["delete"].pop("if_no"))
    assert f"{path}: node 'delete': a yes_no question needs both" in problems(pack_dir)


def test_a_menu_of_several_choices_must_save_them_and_lead_to_one_node(pack_dir):
    path = edit(pack_dir, "menu.yaml", lambda d: d["nodes"]["start"].update(multiple=True))
    found = problems(pack_dir)
    assert f"{path}: node 'start': a menu with 'multiple' needs 'save'" in found
    assert f"{path}: node 'start': the options of a menu with 'multiple' must all lead" in found


def test_keyword_to_unknown_node_is_an_error(pack_dir):
    kw = pack_dir / "flows" / "keywords.yaml"
    kw.write_text(kw.read_text().replace("go: menu.help", "go: menu.nohelp"))
    assert "keyword 'help' leads to unknown 'menu.nohelp'" in problems(pack_dir)


def test_invalid_yaml_names_the_file(pack_dir):
    (pack_dir / "flows" / "broken.yaml").write_text("flow: [unclosed\n")
    assert "broken.yaml: cannot be read" in problems(pack_dir)


def test_fact_without_source_or_date_is_an_error(pack_dir):
    (pack_dir / "flows" / "data" / "more.yaml").write_text(
        "facts:\n  bare:\n    phone: '1'\n    verified: soon\n")
    found = problems(pack_dir)
    assert "fact 'bare': has no source" in found and "'verified' must be a date" in found


def test_an_operator_folder_overrides_a_bundled_file(tmp_path):
    data = yaml.safe_load((ROOT / "flows" / "data" / "contacts.yaml").read_text())
    data["facts"]["line_089"]["phone"] = "089 (test)"
    (tmp_path / "flows" / "data").mkdir(parents=True)
    (tmp_path / "flows" / "data" / "contacts.yaml").write_text(yaml.safe_dump(data))
    content = load_content(tmp_path)
    assert content.facts["line_089"]["phone"] == "089 (test)"
    assert load_content().facts["line_089"]["phone"] == "089"


def test_every_fact_of_the_bundled_pack_has_a_source_and_check_date():
    for fid, fact in load_content().facts.items():
        assert fact["source"] and all(s.get("url") for s in fact["source"]), fid
        assert fact["verified"].year >= 2026, fid


def test_content_check_command_reports_sizes_and_stale_facts():
    runner = CliRunner()
    result = runner.invoke(main, ["content", "check", "--max-age-days", "3650"])
    assert result.exit_code == 0, result.output
    row = re.search(r"emergency\.extortion\s+es\s+(\d+)\s+(\d+)\s+(\d+)", result.output)
    assert row and int(row.group(3)) < int(row.group(2)), "SMS drops accents GSM-7 lacks"
    assert "languages offered: es, en" in result.output


def test_facts_older_than_the_limit_are_reported_stale():
    report = check(load_content(), 180, dt.date(2027, 7, 1))
    assert any("'line_911' was last checked on 2026-11-29" in line for line in report.stale)
    assert check(load_content(), 180, dt.date(2026, 12, 1)).stale == []


def test_content_check_command_fails_on_a_broken_pack(pack_dir):
    edit(pack_dir, "intake.yaml", lambda d: d["nodes"]["people"].update(next="nowhere"))
    overlay = pack_dir.parent / "overlay"
    shutil.copytree(pack_dir / "flows", overlay / "flows")
    result = CliRunner().invoke(main, ["content", "check", "--dir", str(overlay)])
    assert result.exit_code == 1 and "leads to unknown node 'nowhere'" in result.output


def test_mermaid_diagram_shows_every_node_and_edge():
    content = load_content()
    chart = mermaid(content, "emergency")
    assert chart.startswith("flowchart TD")
    for node in content.flows["emergency"].nodes:
        assert f"emergency_{node}" in chart
    assert '-->|"Someone was kidnapped"| emergency_kidnap' in chart
    cli = CliRunner().invoke(main, ["content", "diagram", "emergency"])
    assert cli.exit_code == 0 and cli.output == chart


def test_every_flow_draws_lookups_branches_and_voice_line_detours():
    content = load_content()
    charts = {name: mermaid(content, name) for name in content.flows}
    assert all(chart.startswith("flowchart TD") for chart in charts.values())
    assert 'shelters_where_state[("where_state: In which state are you? If yours is' \
        in charts["shelters"]
    assert '-->|"voice"| shelters_where_state' in charts["shelters"]


def test_extractor_finds_texts_labels_and_retries_with_their_place():
    found = list(extract_flow(BytesIO((FIXTURE / "flows" / "intake.yaml").read_bytes()),
                              None, None, {}))
    texts = {msg: comments for _line, _fn, msg, comments in found}
    assert texts["Send a number from 0 to 20."] == ["intake.people retry"]
    assert "How many people travel with you, {vars.name}?" in texts
    assert all(line > 0 for line, *_ in found)


SHIPPED = sorted(p.parts[-3] for p in (ROOT / "locales").glob("*/LC_MESSAGES/messages.po"))
INCOMPLETE = set(yaml.safe_load((ROOT / "flows" / "languages.yaml").read_text())
                 .get("incomplete") or [])


@pytest.mark.parametrize("lang", [lang for lang in SHIPPED if lang not in INCOMPLETE])
def test_every_shipped_catalog_is_complete_and_keeps_every_placeholder(lang):
    catalog = po(ROOT / "locales" / lang / "LC_MESSAGES" / "messages.po")
    template = po(ROOT / "locales" / "messages.pot")
    assert {m.id for m in template if m.id} <= {m.id for m in catalog if m.id}
    assert lang in load_content().languages
    placeholders = re.compile(r"\{[^}]+\}")
    for message in catalog:
        if not message.id:
            continue
        source = message.id[-1] if isinstance(message.id, tuple) else message.id
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(forms) and not message.fuzzy, message.id
        assert len(forms) == (catalog.num_plurals if isinstance(message.id, tuple) else 1)
        for form in forms:
            assert sorted(placeholders.findall(source)) == \
                sorted(placeholders.findall(form)), message.id
            assert source.count("\n") == form.count("\n"), message.id


def test_template_is_up_to_date_with_the_flows():
    extracted = set()
    for path in [*(ROOT / "flows").glob("*.yaml"), *(ROOT / "flows" / "data").glob("*.yaml")]:
        for _line, _fn, msg, _c in extract_flow(BytesIO(path.read_bytes()), None, None, {}):
            extracted.add(msg)
    template = po(ROOT / "locales" / "messages.pot")
    assert extracted == {m.id for m in template if m.id}, "run `make translations`"


def test_content_check_lists_strings_a_catalog_lacks(tmp_path):
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    po_path = tmp_path / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    catalog = po(po_path)
    del catalog["Settings"]
    with po_path.open("wb") as fh:
        write_po(fh, catalog)
    result = CliRunner().invoke(main, ["content", "check", "--no-sizes", "--dir", str(tmp_path)])
    assert "catalog es: 1 strings missing (not offered)" in result.output
    assert "missing: 'Settings'" in result.output
    offered = result.output.split("languages offered: ")[1].split(";")[0].split(", ")
    assert "es" not in offered and "en" in offered
