"""The Telegram webhook as Telegram drives it: the secret, real update shapes, retries, junk."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TELEGRAM_SECRET

PATH = "/webhooks/telegram"
CHAT = 700100200
_ids = itertools.count(500_000)

LANGUAGE_MENU = ("Elige tu idioma", "Choose your language")


def user(chat: int = CHAT) -> dict[str, Any]:
    return {"id": chat, "is_bot": False, "first_name": "Ana", "language_code": "es"}


def private(chat: int = CHAT) -> dict[str, Any]:
    return {"id": chat, "type": "private", "first_name": "Ana"}


def message(chat: int = CHAT, **fields: Any) -> dict[str, Any]:
    """An update carrying a private message (fields are the message's)."""
    uid = next(_ids)
    return {"update_id": uid, "message": {"message_id": uid % 1000, "date": 1764000000,
                                          "chat": private(chat), "from": user(chat), **fields}}


def button(data: str, chat: int = CHAT) -> dict[str, Any]:
    """An update for a press on an inline button under one of our messages."""
    uid = next(_ids)
    return {"update_id": uid, "callback_query": {
        "id": f"4382bfdwdsb{uid}", "chat_instance": "-8612309871234", "data": data,
        "from": user(chat),
        "message": {"message_id": 7, "date": 1764000000, "chat": private(chat),
                    "from": {"id": 123456, "is_bot": True, "first_name": "Faro"},
                    "text": "menu"}}}


def post(client, update: Any, secret: str | None = TELEGRAM_SECRET, raw: bytes | None = None):
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    body = raw if raw is not None else json.dumps(update)
    return client.post(PATH, data=body, headers=headers, content_type="application/json")


def api_methods(fake_telegram) -> list[str]:
    """The Bot API methods called, in order."""
    return [r["path"].rsplit("/", 1)[-1] for r in fake_telegram.requests]


def buttons(answer: dict[str, Any]) -> list[str]:
    return [b["text"] for row in answer["reply_markup"]["inline_keyboard"] for b in row]


def stored(redis_client) -> list[bytes]:
    return list(redis_client.scan_iter("faro:*"))


# -- the secret header ----------------------------------------------------------------

SECRETS = [
    # label, header value (None: no header), status
    ("correct", TELEGRAM_SECRET, 200),
    ("missing", None, 403),
    ("empty", "", 403),
    ("wrong", "not-the-secret", 403),
    ("a prefix of the secret", TELEGRAM_SECRET[:-1], 403),
    ("the secret and more", TELEGRAM_SECRET + "x", 403),
    ("other case", TELEGRAM_SECRET.upper(), 403),
    ("non-ascii", "sécret", 403),
]


@pytest.mark.parametrize(("label", "secret", "status"), SECRETS, ids=[s[0] for s in SECRETS])
def test_secret_header(client, redis_client, fake_telegram, label, secret, status):
    response = post(client, message(text="Nanga def"), secret=secret)
    assert response.status_code == status
    if status == 403:
        assert stored(redis_client) == [], "a forged update must change nothing"
        assert fake_telegram.requests == []
    else:
        assert response.get_json()["method"] == "sendMessage"
        assert api_methods(fake_telegram) == ["sendVoice"]  # the menu's recording


# -- real update shapes ---------------------------------------------------------------

PHOTO = [{"file_id": f"AgACAgEAAxkBAAI{s}", "file_unique_id": f"AQAD{s}", "file_size": s * 40,
          "width": s, "height": s * 3 // 4} for s in (90, 320, 1280)]
SHAPES = [
    ("text", {"text": "Nanga def"}),
    ("text with a command", {"text": "/start", "entities": [
        {"type": "bot_command", "offset": 0, "length": 6}]}),
    ("location", {"location": {"latitude": 32.5149, "longitude": -117.0382,
                               "horizontal_accuracy": 20}}),
    ("photo with sizes and caption", {"photo": PHOTO, "caption": "IMG_2041"}),
    ("document", {"document": {"file_id": "BQACAgEAAxkBAAIB", "file_unique_id": "AgADzQ",
                               "file_name": "acta.pdf", "mime_type": "application/pdf",
                               "file_size": 48213}}),
    ("voice", {"voice": {"file_id": "AwACAgEAAxkBAAIC", "file_unique_id": "AgADzg",
                         "duration": 4, "mime_type": "audio/ogg", "file_size": 9120}}),
]


@pytest.mark.parametrize(("label", "fields"), SHAPES, ids=[s[0] for s in SHAPES])
def test_new_chat_gets_language_menu_as_webhook_response(client, fake_telegram, label, fields):
    response = post(client, message(**fields))
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["method"] == "sendMessage"
    assert answer["chat_id"] == CHAT
    for words in LANGUAGE_MENU:
        assert words in answer["text"]
    assert buttons(answer)[:2] == ["1. Español", "2. English"]
    assert [b["callback_data"] for row in answer["reply_markup"]["inline_keyboard"]
            for b in row][:2] == ["1", "2"]
    # One reply goes back as the webhook response; only its recording goes by the Bot API.
    assert api_methods(fake_telegram) == ["sendVoice"]


def test_button_press_answers_callback_and_replies_in_the_webhook_response(client,
                                                                          fake_telegram):
    post(client, message(text="Nanga def"))
    fake_telegram.clear()  # the language menu's recording
    pressed = button("1")
    response = post(client, pressed)

    assert response.status_code == 200
    answer = response.get_json()
    assert answer["method"] == "sendMessage"
    assert answer["chat_id"] == CHAT
    # Choosing a language gives the welcome text and the main menu, joined in one message.
    assert "Nunca te pedimos dinero" in answer["text"]
    assert "¿Qué necesitas?" in answer["text"]
    assert buttons(answer)[0] == "1. Citas en la frontera"
    assert all(label.split(". ", 1)[0].isdigit() for label in buttons(answer))
    # The spinner on the pressed button is stopped by a Bot API call, through PTB; the
    # menu's recording follows, before the webhook response.
    calls = fake_telegram.wait_for(2)
    assert [c["path"].rsplit("/", 1)[-1] for c in calls] == ["answerCallbackQuery", "sendVoice"]
    assert calls[0]["params"] == {"callback_query_id": pressed["callback_query"]["id"]}
    assert calls[0]["path"].startswith("/bot123456:")
    assert "python-telegram-bot" in calls[0]["headers"]["User-Agent"]


def test_typing_the_number_works_like_the_button(client):
    post(client, message(text="Nanga def"))
    answer = post(client, message(text="2")).get_json()
    assert "What do you need?" in answer["text"]
    assert buttons(answer)[0] == "1. Appointments at the border"


def test_callback_answer_failure_still_replies(client, fake_telegram):
    post(client, message(text="Nanga def"))
    fake_telegram.fail_next.append(500)
    response = post(client, button("1"))
    assert response.status_code == 200
    assert "¿Qué necesitas?" in response.get_json()["text"]


# -- updates acknowledged without a reply ---------------------------------------------

def _group_message() -> dict[str, Any]:
    update = message(text="Hola a todos")
    update["message"]["chat"] = {"id": -1001234567890, "type": "supergroup", "title": "Grupo"}
    return update


def _group_button() -> dict[str, Any]:
    update = button("1")
    update["callback_query"]["message"]["chat"] = {"id": -4001, "type": "group", "title": "G"}
    return update


IGNORED = [
    ("edited_message", lambda: {"update_id": next(_ids), "edited_message": {
        **message(text="Nanga def")["message"], "edit_date": 1764000100}}),
    ("my_chat_member", lambda: {"update_id": next(_ids), "my_chat_member": {
        "chat": private(), "from": user(), "date": 1764000000,
        "old_chat_member": {"status": "member", "user": {"id": 123456, "is_bot": True,
                                                         "first_name": "Faro"}},
        "new_chat_member": {"status": "kicked", "until_date": 0,
                            "user": {"id": 123456, "is_bot": True, "first_name": "Faro"}}}}),
    ("channel_post", lambda: {"update_id": next(_ids), "channel_post": {
        "message_id": 3, "date": 1764000000, "text": "Aviso",
        "chat": {"id": -1009876543210, "type": "channel", "title": "Canal"}}}),
    ("group message", _group_message),
    ("button in a group", _group_button),
    ("inline-mode button (no message)", lambda: {"update_id": next(_ids), "callback_query": {
        "id": "77", "chat_instance": "1", "from": user(), "inline_message_id": "AAA",
        "data": "1"}}),
    ("unknown update kind", lambda: {"update_id": next(_ids), "some_future_field": {"a": 1}}),
]


@pytest.mark.parametrize(("label", "make"), IGNORED, ids=[i[0] for i in IGNORED])
def test_update_acknowledged_without_reply(client, redis_client, fake_telegram, label, make):
    response = post(client, make())
    assert response.status_code == 200
    assert response.get_json() == {}
    assert fake_telegram.requests == []
    assert stored(redis_client) == []


# -- retries from Telegram ------------------------------------------------------------

def test_replayed_text_update_gets_one_reply(client, fake_telegram):
    update = message(text="Nanga def")
    assert post(client, update).get_json()["method"] == "sendMessage"
    again = post(client, update)
    assert again.status_code == 200
    assert again.get_json() == {}
    assert api_methods(fake_telegram) == ["sendVoice"], "the first answer's recording only"


def _chat(client, steps: list[str], chat: int, replay: int | None = None) -> list[dict]:
    """First "Nanga def", then button presses; the press number `replay` is sent twice."""
    out = [post(client, message(chat, text="Nanga def")).get_json()]
    for i, data in enumerate(steps, 1):
        update = button(data, chat)
        out.append(post(client, update).get_json())
        if i == replay:
            out.append(post(client, update).get_json())
    return out


def test_replayed_button_press_replies_once_and_does_not_advance(client, fake_telegram):
    replayed = _chat(client, ["1", "2"], CHAT, replay=1)
    expected = _chat(client, ["1", "2"], CHAT + 1)
    advanced = _chat(client, ["1", "1", "2"], CHAT + 2)

    assert replayed[1]["method"] == "sendMessage"
    # The retry only stops the spinner: no second message to the person.
    assert replayed[2]["method"] == "answerCallbackQuery"
    assert "text" not in replayed[2]
    assert replayed[3]["text"] == expected[2]["text"]
    assert replayed[3]["text"] != advanced[3]["text"]
    sent = [r for r in fake_telegram.requests if r["path"].endswith("/sendMessage")]
    assert sent == []


# -- malformed requests ---------------------------------------------------------------

def _msg(**fields: Any) -> dict[str, Any]:
    return message(**fields)


def _with_chat(chat: Any) -> dict[str, Any]:
    update = message(text="Nanga def")
    update["message"]["chat"]["id"] = chat
    return update


MALFORMED = [
    # label, raw body, status
    ("invalid JSON", b'{"update_id": 1, "message": ', 400),
    ("empty body", b"", 400),
    ("JSON null", b"null", 400),
    ("JSON array", b"[]", 400),
    ("JSON array of an update", json.dumps([_msg(text="Nanga def")]).encode(), 400),
    ("JSON string", b'"update"', 400),
    ("update_id as string", b'{"update_id": "1", "message": {}}', 400),
    ("update_id as float", b'{"update_id": 1.5}', 400),
    ("no update_id", json.dumps({"message": _msg(text="x")["message"]}).encode(), 400),
    ("message is a string", b'{"update_id": 1, "message": "x"}', 400),
    ("message is empty", b'{"update_id": 1, "message": {}}', 400),
    ("message without chat", json.dumps(
        {"update_id": 1, "message": {"message_id": 1, "date": 1}}).encode(), 400),
    ("chat id as string", json.dumps(_with_chat("abc")).encode(), 400),
    ("chat id as float", json.dumps(_with_chat(1.5)).encode(), 400),
    ("chat id as bool", json.dumps(_with_chat(True)).encode(), 400),
    ("text is a number", json.dumps(_msg(text=5)).encode(), 400),
    ("caption is a list", json.dumps(_msg(caption=["x"])).encode(), 400),
    ("date out of range", json.dumps(_msg(text="Nanga def", date=1e30)).encode(), 400),
    ("photo sizes are numbers", json.dumps(_msg(photo=[1, 2])).encode(), 400),
    ("location as strings", json.dumps(
        _msg(location={"latitude": "a", "longitude": "b"})).encode(), 400),
    ("location out of range", json.dumps(
        _msg(location={"latitude": 95.0, "longitude": 10.0})).encode(), 400),
    ("callback_query is a string", b'{"update_id": 1, "callback_query": "x"}', 400),
    ("callback data is a number", json.dumps(
        {**button("1"), "callback_query": {**button("1")["callback_query"], "data": 5}}
    ).encode(), 400),
]


@pytest.mark.parametrize(("label", "raw", "status"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_update_is_refused_not_crashed(client, redis_client, fake_telegram, label,
                                                raw, status):
    response = post(client, None, raw=raw)
    assert response.status_code == status
    assert response.get_json()["error"]
    assert stored(redis_client) == [], "nothing is stored for a refused update"
    assert fake_telegram.requests == []


def test_not_json_content_type_is_refused(client, redis_client):
    response = client.post(PATH, data=json.dumps(message(text="Nanga def")),
                           content_type="text/plain",
                           headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
    assert response.status_code == 400
    assert stored(redis_client) == []


def test_body_over_the_limit_is_413(client, redis_client):
    response = post(client, message(text="x" * (256 * 1024 + 10)))
    assert response.status_code == 413
    assert stored(redis_client) == []


# -- any damage to a real update is a 400 at worst ------------------------------------

def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if prefix:
        yield prefix
    children = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, (*prefix, key))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6)
REAL_UPDATES = [message(**fields) for _, fields in SHAPES] + [button("1")]


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_update_is_answered_never_crashed(client, data):
    update = copy.deepcopy(data.draw(st.sampled_from(REAL_UPDATES)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(update))))
        parent = update
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = data.draw(JSON_VALUES)
    response = post(client, update)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
