"""The simulator's phone call: the voice line's own answers, as what a caller hears."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot import create_app
from bot.message import Inbound
from bot.store import normalize_address
from tests.test_settings import PRODUCTION

FICTIONAL = re.compile(r"\+1[2-9][0-8][0-9]55501[0-9]{2}")  # 555-0100 to 555-0199
LANGUAGE_MENU = [
    {"say": "Para español, oprime 1.", "lang": "es-MX"},
    {"say": "For English, press 2.", "lang": "en-US"},
    {"say": "Pour le français, appuyez sur 3.", "lang": "fr-FR"},
    {"play": "/audio/ht/voice_language.mp3"},
    {"say": "Para português, digite 5.", "lang": "pt-BR"}]


def move(client, action: str, keys: str | None = None) -> dict[str, Any]:
    """One move of the simulated caller; the answer, which must be a 200."""
    body = {"action": action, **({"keys": keys} if keys is not None else {})}
    response = client.post("/simulator/call", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def lines(answer: dict[str, Any]) -> list[str]:
    return [item.get("say", item.get("play")) for item in answer["heard"]]


def test_a_call_starts_with_the_language_menu_each_line_in_its_own_voice(client):
    answer = move(client, "start")
    assert answer["heard"] == LANGUAGE_MENU
    assert (answer["wait"], answer["digits"], answer["ended"]) == ("keys", 1, False)
    assert FICTIONAL.fullmatch(answer["caller"])
    assert normalize_address("voice", answer["caller"]) == answer["caller"]
    with client.get(LANGUAGE_MENU[3]["play"]) as audio:
        assert audio.status_code == 200 and audio.mimetype == "audio/mpeg"


def test_keys_walk_the_menus_and_phone_numbers_are_said_digit_by_digit(client):
    move(client, "start")
    menu = move(client, "press", "1")
    assert {item["lang"] for item in menu["heard"]} == {"es-MX"}
    assert any(line.startswith("¿Qué necesitas? Para Citas en la frontera, oprime 1.")
               for line in lines(menu))
    emergency = move(client, "press", "5")
    assert lines(emergency)[0].startswith("¿Estás en peligro ahora? Llama al 9 1 1.")
    assert (emergency["wait"], emergency["digits"]) == ("keys", 1)


def test_silence_repeats_the_question_then_says_goodbye_and_ends_the_call(client):
    move(client, "start")
    menu = lines(move(client, "press", "2"))
    again = move(client, "silence")
    assert lines(again) == ["I did not hear anything.", *menu[-2:]]
    assert (again["wait"], again["ended"]) == ("keys", False)
    goodbye = move(client, "silence")
    assert goodbye["wait"] == "none" and goodbye["ended"] is True
    assert lines(goodbye) == ["Thank you for calling Faro. Goodbye. In danger? Call 9 1 1."]
    assert client.post("/simulator/call", json={"action": "press", "keys": "1"}
                       ).status_code == 400  # the call is over


def test_a_key_after_one_silence_answers_the_question_still_asked(client):
    move(client, "start")
    move(client, "press", "2")
    move(client, "silence")
    assert lines(move(client, "press", "5"))[0].startswith("In danger right now? Call 9 1 1.")


def test_keys_and_pound_answer_a_date_and_a_recording_can_be_skipped(client):
    move(client, "start")
    for keys in ("1", "3", "1"):  # Español, my evidence, I agree
        date = move(client, "press", keys)
    assert (date["wait"], date["finish"], date.get("digits")) == ("keys", "#", None)
    for keys in ("20012025#", "4", "2", "18012025", "6"):
        move(client, "press", keys)
    record = move(client, "press", "2")
    assert (record["wait"], record["digits"]) == ("record", 1)
    assert "Después del tono" in lines(record)[-1]
    assert lines(move(client, "press", "1"))[0].startswith("Tu registro está guardado.")


def test_a_creole_caller_hears_the_recordings(client):
    move(client, "start")
    menu = move(client, "press", "4")
    assert {"play": "/audio/ht/menu.start.mp3"} in menu["heard"]


def test_a_turn_posted_twice_moves_the_call_once(client):
    move(client, "start")
    before = client.get_cookie("session").value  # the browser's state before it pressed 1
    menu = lines(move(client, "press", "1"))
    client.set_cookie("session", before)  # a second tab, or a request sent again
    again = lines(move(client, "press", "1"))
    assert again == menu[1:], "the main menu said again, not the appointments menu"


def test_the_simulated_caller_is_not_the_chat_person(client, app, redis_client):
    client.post("/simulator/send", json={"text": "Nanga def"})
    chat = client.post("/simulator/send", json={"choice": "1"}).get_json()
    assert "¿Qué necesitas?" in chat["sms"][0]["body"]
    start = move(client, "start")
    assert start["heard"] == LANGUAGE_MENU, "a new caller: asked for a language"
    store = app.extensions["faro"].store
    with client.session_transaction() as session:
        sim = session["sim"]
    assert store.contact_id(Inbound("simulator", f"sim-{sim}")) != \
        store.contact_id(Inbound("voice", start["caller"]))
    assert len(list(redis_client.scan_iter("faro:c:*"))) == 2

    client.post("/simulator/reset")  # a new person calls from a new number
    assert move(client, "start")["caller"] != start["caller"]


def test_hanging_up_ends_the_call(client):
    move(client, "start")
    assert move(client, "hangup") == {"heard": [], "wait": "none", "ended": True,
                                      "caller": move(client, "start")["caller"]}
    move(client, "hangup")
    assert client.post("/simulator/call", json={"action": "silence"}).status_code == 400


@pytest.mark.parametrize("body", [
    "nope", [], {}, {"action": "dial"}, {"action": ["start"]}, {"action": "press"},
    {"action": "press", "keys": 1}, {"action": "press", "keys": ""},
    {"action": "press", "keys": "12ab"}, {"action": "press", "keys": "1" * 33}])
def test_bad_call_input_is_a_400(client, body):
    move(client, "start")
    response = client.post("/simulator/call", json=body) if not isinstance(body, str) else \
        client.post("/simulator/call", data=body)
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_no_call_is_a_400_for_keys_and_silence(client):
    for body in ({"action": "press", "keys": "1"}, {"action": "silence"}):
        assert client.post("/simulator/call", json=body).status_code == 400


def test_the_call_is_closed_in_production_without_staff(config, redis_client):
    app = create_app({**PRODUCTION, "REDIS_URL": config["REDIS_URL"]})
    response = app.test_client().post("/simulator/call", json={"action": "start"})
    assert response.status_code == 403
    assert list(redis_client.scan_iter("faro:c:*")) == []
