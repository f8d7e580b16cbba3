"""Per-contact limits: a flood gets one notice then silence; so does a loop of one message."""

from __future__ import annotations

import datetime as dt

import pytest
from redis.connection import AbstractConnection

from bot import create_app, keys, limits
from bot.errors import ConfigError
from bot.limits import Repeats
from bot.message import Inbound, Media
from bot.segments import cheapest
from bot.settings import Settings
from tests.conftest import Channels, twiml_messages

PHONE = "+5215512345678"
RATE = 3


def app_with(config, rate: int):
    return create_app({**config, "FARO_CONTACT_RATE": str(rate)})


def notice(app, name: str, lang: str = "es", sms: bool = True) -> str:
    """Notice `name` in `lang` as the person reads it (by SMS: the cheapest encoding)."""
    faro = app.extensions["faro"]
    text = faro.content.t(lang, faro.content.messages[name])
    return cheapest(text) if sms else text


def cid_of(app, channel: str = "sms", address: str = PHONE) -> str:
    return app.extensions["faro"].store.contact_id(Inbound(channel, address))


def said(response) -> list[str]:
    return twiml_messages(response)


# -- the per-minute rate -------------------------------------------------------------------

def test_past_the_rate_one_notice_in_their_language_then_silence(config, redis_client):
    app = app_with(config, RATE)
    channels = Channels(app.test_client())
    assert said(channels.sms("hola"))  # detected Spanish
    assert said(channels.sms("4"))
    assert said(channels.sms("menu"))
    state = redis_client.get(keys.conversation(cid_of(app)))

    assert said(channels.sms("5")) == [notice(app, "too_many")]
    assert "un minuto" in notice(app, "too_many") and "911" in notice(app, "too_many")
    # A retry is a duplicate:
    assert redis_client.zscore(keys.seen(cid_of(app)), f"sms:SM{channels.sids:032d}")
    assert said(channels.sms("5")) == []
    assert said(channels.sms("hola")) == []
    assert redis_client.get(keys.conversation(cid_of(app))) == state  # nothing moved meanwhile

    counter = keys.inbound(cid_of(app))
    assert 0 < redis_client.ttl(counter) <= limits.WINDOW
    redis_client.delete(counter)  # the minute is over
    [emergency] = said(channels.sms("5"))  # the menu still waited for its answer
    assert "911" in emergency


def test_the_rate_counts_each_contact_apart(config, redis_client):
    app = app_with(config, RATE)
    channels = Channels(app.test_client())
    for _ in range(RATE):
        channels.sms("hola")
    assert said(channels.sms("hola")) == [notice(app, "too_many")]
    assert said(channels.sms("hola", sender="+5215587654321"))  # someone else is answered


def test_a_flood_on_telegram_gets_the_notice_then_only_the_button_spinner(config, redis_client):
    app = app_with(config, RATE)
    channels = Channels(app.test_client())
    for text in ("hola", "menu", "menu"):
        assert channels.tg_text(text).get_json()["method"] == "sendMessage"
    assert channels.tg_text("menu").get_json() == {
        "method": "sendMessage", "chat_id": 700100200, "text": notice(app, "too_many", sms=False)}
    assert channels.tg_text("menu").get_json() == {}
    pressed = channels.tg_button("1").get_json()
    assert pressed["method"] == "answerCallbackQuery" and "text" not in pressed


def test_a_new_person_over_the_rate_gets_the_notice_in_the_first_language(config,
                                                                          redis_client):
    app = app_with(config, 1)
    channels = Channels(app.test_client())
    redis_client.set(keys.inbound(cid_of(app)), 1, ex=60)  # as if a first one came
    first = app.extensions["faro"].content.languages[0]
    assert said(channels.sms("hello")) == [notice(app, "too_many", first)]
    assert redis_client.exists(keys.contact(cid_of(app))) == 0  # no contact made for it


def test_no_rate_at_zero(config, redis_client):
    app = app_with(config, 0)
    channels = Channels(app.test_client())
    for n in range(30):
        assert said(channels.sms("menu" if n % 2 else "hola"))
    assert not redis_client.exists(keys.inbound(cid_of(app)))


def test_the_rate_setting(config):
    assert Settings.load({"TESTING": True}).contact_rate == 20
    assert Settings.load({"TESTING": True, "FARO_CONTACT_RATE": "-4"}).contact_rate == 0
    with pytest.raises(ConfigError, match="FARO_CONTACT_RATE"):
        Settings.load({"TESTING": True, "FARO_CONTACT_RATE": "many"})


# -- the same message over and over ---------------------------------------------------------

def test_the_same_message_is_answered_twenty_times_then_one_notice_then_silence(
        config, redis_client):
    app = app_with(config, 0)
    channels = Channels(app.test_client())
    channels.sms("hola")
    for _ in range(limits.REPEATS):
        assert said(channels.sms("Nanga def"))
    assert said(channels.sms("Nanga def")) == [notice(app, "repeated")]
    assert "MENÚ" in notice(app, "repeated", sms=False) and "911" in notice(app, "repeated")
    assert said(channels.sms("Nanga def")) == []
    assert said(channels.sms("menu"))  # anything else is answered at once...
    assert said(channels.sms("Nanga def"))  # ...and starts the count again

    record = redis_client.hgetall(keys.contact(cid_of(app)))
    assert len(record[b"rh"]) == 16 and record[b"rn"] == b"1"
    assert not any(b"Nanga" in value for value in record.values())  # a keyed hash, no text


def test_the_same_message_is_answered_again_once_five_minutes_passed(config, redis_client):
    app = app_with(config, 0)
    conversations = app.extensions["faro"].conversations
    start = dt.datetime.now(dt.UTC)
    channels = Channels(app.test_client())
    for _ in range(limits.REPEATS + 2):
        channels.sms("Nanga def")
    assert said(channels.sms("Nanga def")) == []
    conversations.clock = lambda: start + dt.timedelta(seconds=limits.REPEAT_WINDOW + 1)
    assert said(channels.sms("Nanga def"))


@pytest.mark.parametrize("word", ["911", "emergencia", "Auxilio!", "urgence", "SOS"])
def test_an_emergency_word_is_never_silenced_as_a_repeat(config, redis_client, word):
    app = app_with(config, 0)
    channels = Channels(app.test_client())
    channels.sms("hola")
    for _ in range(limits.REPEATS + 5):
        [answer] = said(channels.sms(word))
        assert "911" in answer


def test_past_the_rate_an_emergency_word_gets_the_notice_which_names_911(config, redis_client):
    app = app_with(config, RATE)
    channels = Channels(app.test_client())
    for _ in range(RATE):
        assert "911" in said(channels.sms("911"))[0]
    assert said(channels.sms("911")) == [notice(app, "too_many")]


# -- the cost in Redis ----------------------------------------------------------------------

def test_the_limits_add_no_round_trip_to_a_menu_step(config, redis_client, monkeypatch):
    trips: list[bytes] = []  # each command or pipeline written to a Redis socket
    send = AbstractConnection.send_packed_command
    monkeypatch.setattr(AbstractConnection, "send_packed_command",
                        lambda self, packed, check_health=True: trips.append(packed) or send(
                            self, packed, check_health))
    costs = []
    for rate in (20, 0):
        channels = Channels(app_with(config, rate).test_client())
        channels.sids = 1000 * rate  # message ids of its own
        channels.sms("hola", sender=f"+52155123456{rate:02d}")
        before = len(trips)
        assert said(channels.sms("4", sender=f"+52155123456{rate:02d}"))
        costs.append(len(trips) - before)
    assert costs[0] == costs[1] <= 3, costs


# -- the pure parts -------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "limit", "verdict"), [
    (1, 3, limits.ANSWER), (3, 3, limits.ANSWER), (4, 3, limits.NOTICE), (5, 3, limits.SILENT),
    (500, 0, limits.ANSWER)])
def test_verdicts(count, limit, verdict):
    assert limits.verdict(count, limit) == verdict


def test_repeats_count_one_message_in_a_row_within_the_window():
    first = Repeats().then("a", 1000)
    assert first == Repeats("a", 1, 1000)
    assert first.then("a", 1100) == Repeats("a", 2, 1000)
    assert first.then("b", 1100) == Repeats("b", 1, 1100)
    assert first.then("a", 1000 + limits.REPEAT_WINDOW) == Repeats("a", 1, 1300)
    assert first.then("a", 900) == Repeats("a", 1, 900)  # a clock that went back
    second = first.then("a", 1001)
    record = {name.encode(): str(value).encode() for name, value in second.fields().items()}
    assert Repeats.from_record(record) == second
    assert Repeats.from_record({b"rn": b"junk"}) == Repeats()


def test_fingerprints_are_keyed_and_tell_attachments_apart():
    text = Inbound("sms", PHONE, text="Nanga def")
    assert limits.fingerprint(b"k1", text) != limits.fingerprint(b"k2", text)
    photo = [Inbound("sms", PHONE, media=(Media(f"https://x/{n}", "image/jpeg", "photo"),))
             for n in (1, 2)]
    assert limits.fingerprint(b"k1", photo[0]) != limits.fingerprint(b"k1", photo[1])
