"""`faro chat`: the terminal simulator, through the same pipeline as the channels."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.cli import main


@pytest.fixture
def env(config, monkeypatch) -> None:
    """The test Redis, in development mode, as a developer's shell would have it."""
    monkeypatch.setenv("REDIS_URL", config["REDIS_URL"])
    monkeypatch.setenv("FARO_ENV", "development")


def test_chat_as_telegram_shows_menus_as_buttons(env) -> None:
    result = CliRunner().invoke(main, ["chat", "--channel", "telegram"], input="Nanga def\n1\n5\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Elige tu idioma" in out
    assert "[1. Español]" in out
    assert "¿Qué necesitas?" in out
    assert "[1. " in out
    assert "[5. Emergencia]" in out
    assert "911" in out
    assert out.index("Elige tu idioma") < out.index("¿Qué necesitas?") < out.index("911")
    # Telegram carries the options only as buttons, not also as numbered lines.
    assert "\n1. Español" not in out


def test_chat_as_sms_shows_numbers_and_segments(env) -> None:
    result = CliRunner().invoke(main, ["chat", "--channel", "sms", "--as", "ana"],
                                input="Nanga def\n1\n")
    assert result.exit_code == 0, result.output
    assert "1. Español" in result.output
    assert "5. Emergencia" in result.output
    assert "SMS segment" in result.output
    assert "[1. " not in result.output

    # `--as` keeps the person: the same name continues where the last chat stopped.
    again = CliRunner().invoke(main, ["chat", "--channel", "sms", "--as", "ana"], input="5\n")
    assert again.exit_code == 0, again.output
    assert "911" in again.output
