"""The pure engine: every node type and input kind, keywords, retries. No Redis, no IO."""

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content import load_content
from bot.engine import Profile, State, step
from bot.message import Inbound, Media

FIXTURE = Path(__file__).parent / "fixtures" / "pack"
TODAY = dt.date(2026, 11, 29)


@pytest.fixture(scope="module")
def pack():
    return load_content(base=FIXTURE)


@pytest.fixture(scope="module")
def bundled():
    return load_content()


class Person:
    """Talks to the engine the way a person on SMS would, keeping profile and state."""

    def __init__(self, content, lang="en"):
        self.content = content
        self.profile = Profile(lang=lang)
        self.state = None
        self.effects = []

    def send(self, text="", **kw):
        result = step(self.content, self.profile, self.state,
                      Inbound("sms", "+5215500000000", text=text, **kw), TODAY)
        self.profile, self.state = result.profile, result.state
        self.effects += result.effects
        return "\n".join("\n".join([r.text, *r.numbered_lines()]) for r in result.replies)

    @property
    def at(self):
        return f"{self.state.flow}.{self.state.node}" if self.state else None


def test_a_new_person_gets_the_language_menu_and_the_choice_sticks(bundled):
    ana = Person(bundled, lang="")
    out = ana.send("hola")
    assert "Elige tu idioma" in out and "Choose your language" in out
    assert "1. Español" in out and "2. English" in out
    out = ana.send("2")
    assert ana.profile.lang == "en"
    assert {"type": "set_language", "lang": "en"} in ana.effects
    assert "What do you need?" in out and ana.at == "menu.start"


def test_a_language_can_be_chosen_by_its_name(bundled):
    ana = Person(bundled, lang="")
    ana.send("hi")
    ana.send("espanol")
    assert ana.profile.lang == "es"


def test_menu_accepts_number_button_and_label_with_typos(pack):
    for answer in ({"text": "2"}, {"text": " 2. "}, {"choice": "2"}, {"text": "call the hotlne"}):
        ana = Person(pack)
        ana.send("hi")
        out = ana.send(**answer)
        assert "Call 800 000 0000." in out, answer


def test_menu_rejects_out_of_range_and_reminds_after_two_misses(pack):
    ana = Person(pack)
    ana.send("hi")
    first = ana.send("9")
    assert "did not understand" in first and "1. Intake form" in first
    assert "MENU" not in first
    second = ana.send("banana")
    assert "Send MENU to start again" in second
    assert ana.at == "menu.start" and ana.state.retries == 2
    ana.send("1")
    assert ana.state.retries == 0


@pytest.mark.parametrize("answer,saved", [
    ({"text": "2 3"}, ["weather", "roads"]),
    ({"text": "3,2"}, ["weather", "roads"]),
    ({"text": "3 and 2"}, ["weather", "roads"]),
    ({"text": "2 y 3"}, ["weather", "roads"]),
    ({"text": "23"}, ["weather", "roads"]),
    ({"text": "3 3."}, ["roads"]),
    ({"text": "2"}, ["weather"]),
    ({"text": "wether"}, ["weather"]),
    ({"choice": "3"}, ["roads"]),
])
def test_a_menu_of_several_choices_saves_a_list_and_shows_their_labels(pack, answer, saved):
    ana = Person(pack)
    ana.send("hi")
    ana.send("4")
    assert "Which news?" in ana.send("5")
    out = ana.send(**answer)
    assert ana.state.vars["topics"] == saved
    shown = ", ".join(label for label in ("Weather", "Roads") if label.lower() in saved)
    assert f"You chose: {shown}.\n1. Keep {shown}\n2. Choose again" in out


@pytest.mark.parametrize("typed", ["2 4", "0 2", "2 banana", "10"])
def test_a_menu_of_several_choices_retries_what_it_cannot_read(pack, typed):
    ana = Person(pack)
    for text in ("hi", "4", "5"):
        ana.send(text)
    out = ana.send(typed)
    assert "did not understand" in out and "Which news?" in out and ana.at == "extras.topics"
    assert "topics" not in ana.state.vars


def test_facts_fill_placeholders_and_carry_their_check_date(pack):
    ana = Person(pack)
    ana.send("hi")
    out = ana.send("2")
    assert "Call 800 000 0000." in out
    assert "We checked this on Jan 15, 2026." in out


def test_every_input_kind_validates_retries_and_saves(pack):
    ana = Person(pack)
    ana.send("hi")
    assert "What should we call you?" in ana.send("1")
    assert "Please write a short answer." in ana.send("x" * 41)
    assert "How many people travel with you, Rosa?" in ana.send("Rosa")
    assert "Send a number from 0 to 20." in ana.send("21")
    assert "Send a number from 0 to 20." in ana.send("many")
    assert "When is your appointment?" in ana.send("3")
    assert "like this" in ana.send("31/02/2027")  # no such day
    assert "like this" in ana.send("01/01/2020")  # in the past
    assert "Where are you?" in ana.send("15/01/2027")
    assert "Send a photo" in ana.send(location=(32.5149, -117.0382))
    assert "Please send a photo" in ana.send("here it is")
    photo = Media("https://api.twilio.com/media/ME1", "image/jpeg", "photo")
    assert "Is this right?\n1. Yes\n2. No" in ana.send(media=(photo,))
    assert ana.state.vars == {
        "name": "Rosa", "people": 3, "when": "2027-01-15",
        "where": {"lat": 32.5149, "lon": -117.0382},
        "photo": [{"url": "https://api.twilio.com/media/ME1", "type": "image/jpeg",
                   "kind": "photo"}],
    }
    assert "Please send 1 for yes or 2 for no." in ana.send("maybe")
    assert "Thank you, Rosa." in ana.send("yes")
    assert ana.at == "menu.start"


def test_location_question_takes_a_typed_place_when_allowed(pack):
    ana = Person(pack)
    ana.send("hi")
    for answer in ("1", "Rosa", "2", "15/01/2027"):
        ana.send(answer)
    ana.send("Tijuana")
    assert ana.state.vars["where"] == {"place": "Tijuana"}


@pytest.mark.parametrize("word,erased", [
    ("sí", True), ("oui", True), ("wi", True), ("1", True), ("Yes!", True),
    ("no", False), ("não", False), ("2", False),
])
def test_yes_no_answers_by_word_in_any_language(pack, word, erased):
    ana = Person(pack)
    ana.send("delete my data")
    ana.send(word)
    assert ({"type": "delete_contact"} in ana.effects) is erased
    assert ana.at == (None if erased else "menu.start")


@pytest.mark.parametrize("word,effect", [
    ("STOP", "opt_out"), ("alto", "opt_out"), ("Arrêt", "opt_out"), ("sispann", "opt_out"),
    ("START", "opt_in"), ("alta", "opt_in"),
])
def test_alert_keywords_work_in_the_middle_of_a_question(pack, word, effect):
    ana = Person(pack)
    ana.send("hi")
    ana.send("1")  # now inside the intake form, at a free-text question
    ana.send(word)
    assert {"type": effect} in ana.effects
    assert ana.profile.opted_out is (effect == "opt_out")


@pytest.mark.parametrize("word", ["menu", "MENÚ", "Menu!", "0", "meni"])
def test_menu_keyword_leaves_any_step(pack, word):
    ana = Person(pack)
    ana.send("hi")
    ana.send("1")
    ana.send("Rosa")
    assert "Main menu" in ana.send(word)
    assert ana.at == "menu.start"


def test_help_and_language_keywords(bundled):
    ana = Person(bundled, lang="es")
    assert "Estas palabras sirven" in ana.send("ayuda")
    out = ana.send("language")
    assert "Elige tu idioma" in out and ana.at == "settings.language"
    assert "Desde ahora te escribo en español" in ana.send("1")


def test_a_new_person_typing_menu_still_chooses_a_language_first(bundled):
    ana = Person(bundled, lang="")
    out = ana.send("menu")
    assert "Elige tu idioma" in out


def test_known_person_with_expired_conversation_gets_the_menu_in_their_language(bundled):
    ana = Person(bundled, lang="es")
    assert "¿Qué necesitas?" in ana.send("hola")


def test_conversation_at_a_node_removed_from_content_restarts_at_the_menu(pack):
    ana = Person(pack)
    ana.state = State("gone", "nowhere")
    assert "Main menu" in ana.send("1")


def test_delete_ends_the_conversation(pack):
    ana = Person(pack)
    ana.send("borrar mis datos")
    assert "Erased." in ana.send("1")
    assert ana.state is None and {"type": "delete_contact"} in ana.effects


def test_state_round_trips_through_storage_form():
    state = State("intake", "when", {"name": "Rosa", "people": 3}, 1)
    assert State.from_dict(state.to_dict()) == state


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), choice=st.text(max_size=10),
       lang=st.sampled_from(["", "es", "en"]), start=st.sampled_from(
           [None, ("menu", "start"), ("emergency", "start"), ("settings", "delete"),
            ("welcome", "language")]))
def test_any_text_at_any_node_gets_a_reply_and_a_valid_state(bundled, text, choice, lang, start):
    state = State(*start) if start else None
    result = step(bundled, Profile(lang=lang), state,
                  Inbound("sms", "+5215500000000", text=text, choice=choice), TODAY)
    assert result.replies and all(r.text.strip() for r in result.replies)
    if result.state is not None:
        assert bundled.has(result.state.flow, result.state.node)


class Places:
    """A lookup that answers from a dict, as the engine's read-only interface expects."""

    def __init__(self, data):
        self.data = data
        self.calls = []

    def lookup(self, name, args, lang):
        self.calls.append((name, args, lang))
        return self.data.get(args.get("city", ""), [])


def talk(pack, lookups, *texts):
    profile, state, out, effects = Profile(lang="en"), None, [], []
    for text in texts:
        result = step(pack, profile, state, Inbound("sms", "+5215500000000", text=text),
                      TODAY, lookups)
        profile, state = result.profile, result.state
        effects += result.effects
        out.append("\n".join("\n".join([r.text, *r.numbered_lines()]) for r in result.replies))
    return out, state, effects


def test_branch_follows_a_data_file_so_operators_switch_content_without_code(pack):
    out, *_ = talk(pack, None, "hi", "4", "1")
    assert out[-1].startswith("Closed since 2025-01-20.")
    switched = load_content(base=FIXTURE)
    switched.facts["policy"] = {**switched.facts["policy"], "state": "open"}
    out, *_ = talk(switched, None, "hi", "4", "1")
    assert out[-1].startswith("Open now.")


def test_lookup_results_fill_the_item_template(pack):
    places = Places({"Tijuana": [{"id": "a", "name": "Casa A", "km": 2},
                                 {"id": "b", "name": "Casa B", "km": 7}]})
    out, state, _ = talk(pack, places, "hi", "4", "2", "Tijuana")
    assert "2 places:\nCasa A (2 km)\nCasa B (7 km)" in out[-1]
    assert places.calls == [("shelters_in_city", {"city": "Tijuana"}, "en")]
    assert state.node == "start" and state.flow == "menu"


def test_lookup_with_nothing_found_says_so_and_goes_on(pack):
    out, state, _ = talk(pack, Places({}), "hi", "4", "2", "Atlantis")
    assert "Nothing in Atlantis." in out[-1] and state.flow == "menu"


def test_lookup_results_can_be_a_menu_and_the_choice_is_saved(pack):
    places = Places({"Tijuana": [{"id": "a", "name": "Casa A"}, {"id": "b", "name": "Casa B"}]})
    out, state, _ = talk(pack, places, "hi", "4", "3")
    assert "Choose one:\n1. Casa A\n2. Casa B" in out[-1]
    out, state, effects = talk(pack, places, "hi", "4", "3", "7", "2")
    assert "did not understand" in out[-2] and "1. Casa A" in out[-2]
    assert "Saved b." in out[-1]
    assert {"type": "save_appointment", "place": "b", "note": "at b"} in effects
    assert "_choices" not in state.vars


@pytest.mark.parametrize("typed,saved", [
    ("9:30", "09:30"), ("15:00", "15:00"), ("3pm", "15:00"), ("3 PM", "15:00"),
    ("12am", "00:00"), ("8", "08:00"), ("18h", "18:00"), ("7.45", "07:45"),
    ("9:15 p.m.", "21:15"),
])
def test_time_answers(pack, typed, saved):
    _, state, _ = talk(pack, None, "hi", "4", "4", typed)
    assert state.flow == "menu" and state.vars["at"] == saved


@pytest.mark.parametrize("typed", ["25:00", "13pm", "noon", "9:75"])
def test_bad_time_answers_get_the_time_hint(pack, typed):
    out, state, _ = talk(pack, None, "hi", "4", "4", typed)
    assert "like this: 9:30 or 15:00" in out[-1] and state.node == "book_when"


def test_a_first_message_in_a_served_language_skips_the_language_menu(bundled):
    result = step(bundled, Profile(), None, Inbound("sms", "+5215500000000", text="bonjour"),
                  TODAY, detect=lambda text: "fr")
    assert result.profile.lang == "fr"
    assert result.replies[0].text == ("Je vais vous écrire en français. Pour changer de langue, "
                                      "envoyez LANGUE.")
    assert result.state.flow == "menu" and {"type": "set_language", "lang": "fr"} in \
        result.effects


def test_a_first_message_faro_cannot_place_gets_the_numbered_language_menu(bundled):
    result = step(bundled, Profile(), None, Inbound("sms", "+5215500000000", text="Nanga def"),
                  TODAY, detect=lambda text: None)
    assert result.profile.lang == "" and result.state.node == "language"
    assert [o.key for o in result.replies[0].options] == ["1", "2", "3", "4", "5"]


def test_buttons_and_bot_commands_are_not_read_for_language(bundled):
    seen = []
    step(bundled, Profile(), None, Inbound("telegram", "1", text="/start"), TODAY,
         detect=lambda text: seen.append(text) or "en")
    step(bundled, Profile(), None, Inbound("telegram", "1", choice="1"), TODAY,
         detect=lambda text: seen.append(text) or "en")
    assert seen == []


def test_typing_a_language_name_switches_to_it(bundled):
    ana = Person(bundled, lang="es")
    done = bundled.t("fr", "Done. From now on I will write to you in English.")
    assert done != "Done. From now on I will write to you in English."
    assert done in ana.send("français")
    assert ana.profile.lang == "fr"
