"""Provider calls keep their connection open, open another when the server closed it,
and go through the environment's proxy: the Bot API through python-telegram-bot, Twilio's
REST API through twilio-python, both over bot/httpclient.py."""

from __future__ import annotations

import pytest

from bot import httpclient
from bot.channels.render import TelegramCall
from bot.errors import DeliveryError
from bot.outbound import TelegramSender, TwilioSender
from bot.settings import Settings

ANSWER = TelegramCall("answerCallbackQuery", {"callback_query_id": "42"})


def peers(fake_telegram) -> set:
    return {r["peer"] for r in fake_telegram.requests}


def test_calls_share_one_connection(config, fake_telegram):
    telegram = TelegramSender(Settings.load(config))
    telegram.call([ANSWER, ANSWER])
    telegram.call([ANSWER])
    assert len(fake_telegram.requests) == 3
    assert len(peers(fake_telegram)) == 1


def test_a_connection_the_server_closed_is_replaced(config, fake_telegram):
    fake_telegram.keep_alive = False
    telegram = TelegramSender(Settings.load(config))
    telegram.call([ANSWER])
    telegram.call([ANSWER])
    # (Both calls' client ports may be equal: the server closed first, so the kernel may
    # hand the port out again at once. The second call working is what counts.)
    assert len(fake_telegram.requests) == 2, "the second call did not fail on a dead socket"


def test_a_request_the_closing_server_dropped_is_sent_again_once(config, fake_telegram):
    fake_telegram.drop_reused = True
    telegram = TelegramSender(Settings.load(config))
    telegram.call([ANSWER])
    telegram.call([ANSWER])
    assert len(fake_telegram.requests) == 2
    assert len(peers(fake_telegram)) == 2, "the second call went on a new connection"


def test_senders_close_their_connections_when_dropped(config, fake_telegram):
    telegram = TelegramSender(Settings.load(config))
    telegram.call([ANSWER])
    session = telegram.sessions[0]
    del telegram
    assert session.loop is None, "closed with the sender"


def test_close_closes_every_session(config, fake_telegram):
    telegram = TelegramSender(Settings.load(config))
    telegram.call([ANSWER])
    telegram.close()
    assert telegram.sessions[0].loop is None


# -- Twilio's REST API ---------------------------------------------------------------------

def twilio_settings(config, **more) -> Settings:
    return Settings.load({**config, "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
                          "TWILIO_SMS_FROM": "+15005550006", **more})


def test_twilio_sends_share_one_connection_and_carry_what_twilio_reads(config, fake_twilio):
    twilio = TwilioSender(twilio_settings(config))
    sids = [twilio.send("sms", "+5215512345678", f"Aviso {n}: ñandú, café") for n in range(3)]
    assert len(set(sids)) == 3 and all(sid.startswith("SM") for sid in sids)
    assert len({r["peer"] for r in fake_twilio.requests}) == 1
    sent = fake_twilio.requests[0]
    assert sent["path"] == f"/2010-04-01/Accounts/AC{'1' * 32}/Messages.json"
    assert sent["params"]["Body"] == "Aviso 0: ñandú, café"
    assert sent["params"]["To"] == "+5215512345678"
    assert sent["headers"]["User-Agent"].startswith("twilio-python/")
    assert sent["headers"]["Authorization"].startswith("Basic ")


def test_twilio_errors_keep_their_status_and_code(config, fake_twilio):
    twilio = TwilioSender(twilio_settings(config))
    fake_twilio.fail_next.append((400, 21211))  # not a valid phone number
    with pytest.raises(DeliveryError) as refused:
        twilio.send("sms", "+5215512345678", "hola")
    assert refused.value.code == "21211" and not refused.value.retry
    fake_twilio.fail_next.append(503)
    with pytest.raises(DeliveryError) as down:
        twilio.send("sms", "+5215512345678", "hola")
    assert down.value.retry


def test_a_twilio_request_the_closing_server_dropped_is_sent_again_once(config, fake_twilio):
    fake_twilio.drop_reused = True
    twilio = TwilioSender(twilio_settings(config))
    twilio.send("sms", "+5215512345678", "uno")
    twilio.send("sms", "+5215512345678", "dos")
    assert [r["params"]["Body"] for r in fake_twilio.requests] == ["uno", "dos"]


def test_twilio_unreachable_is_a_delivery_error_worth_retrying(config):
    twilio = TwilioSender(twilio_settings(config, TWILIO_API_URL="http://127.0.0.1:9"))
    with pytest.raises(DeliveryError) as failed:
        twilio.send("sms", "+5215512345678", "hola")
    assert failed.value.retry


def test_calls_go_through_the_environments_proxy(config, fake_twilio, monkeypatch):
    # The fake is also a forward proxy: a host nobody can resolve is reached through it.
    monkeypatch.setenv("HTTP_PROXY", fake_twilio.url)
    monkeypatch.setenv("NO_PROXY", "")
    httpclient._proxy.cache_clear()
    try:
        twilio = TwilioSender(twilio_settings(config, TWILIO_API_URL="http://twilio.invalid"))
        assert twilio.send("sms", "+5215512345678", "hola").startswith("SM")
    finally:
        httpclient._proxy.cache_clear()
    [sent] = fake_twilio.requests
    assert sent["proxied_to"] == "twilio.invalid"
    assert sent["params"]["Body"] == "hola"


def test_no_proxy_is_honoured(config, fake_twilio, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    httpclient._proxy.cache_clear()
    try:
        assert TwilioSender(twilio_settings(config)).send("sms", "+5215512345678", "hola")
    finally:
        httpclient._proxy.cache_clear()
    assert fake_twilio.requests[0]["proxied_to"] == ""
