"""Settings: development defaults only where allowed; a missing secret stops start-up."""

import pytest

from bot import create_app
from bot.errors import ConfigError
from bot.settings import Settings

PRODUCTION = {
    "FARO_ENV": "production", "REDIS_URL": "redis://127.0.0.1:1/0",
    "FARO_PUBLIC_URL": "https://faro.example.org", "FARO_SECRET_KEY": "s" * 32,
    "FARO_DATA_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t",
    "TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_WEBHOOK_SECRET": "w",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in [*list(PRODUCTION), "TESTING", "FARO_CHANNELS"]:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("missing", sorted(set(PRODUCTION) - {"FARO_ENV"}))
def test_production_refuses_to_start_without_each_secret(missing):
    config = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        create_app(config)


def test_production_settings_load_when_complete():
    settings = Settings.load(PRODUCTION)
    assert settings.mode == "production"
    assert not settings.development
    assert len(settings.data_key) == 32
    assert "t" not in settings.public().values()  # secrets are masked


def test_channels_not_enabled_need_no_credentials():
    config = {k: v for k, v in PRODUCTION.items() if not k.startswith("TWILIO")}
    config["FARO_CHANNELS"] = "telegram"
    assert Settings.load(config).channels == ("telegram",)


def test_development_mode_fills_in_well_known_values():
    settings = Settings.load({"FARO_ENV": "development"})
    assert settings.development
    assert settings.secret_key and settings.twilio_auth_token


def test_data_key_must_be_32_bytes():
    with pytest.raises(ConfigError, match="FARO_DATA_KEY"):
        Settings.load({**PRODUCTION, "FARO_DATA_KEY": "c2hvcnQ="})


def test_settings_are_frozen():
    settings = Settings.load({"FARO_ENV": "development"})
    with pytest.raises(AttributeError):
        settings.secret_key = "x"  # type: ignore[misc]
