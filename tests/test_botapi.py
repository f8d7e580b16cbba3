"""Bot API calls keep their connection open, and open another when the server closed it."""

from __future__ import annotations

from bot.channels.render import TelegramCall
from bot.outbound import TelegramSender
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
