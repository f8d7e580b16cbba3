"""The one settings object, read from the environment once at start-up."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from bot.errors import ConfigError

# Well-known values used only under `faro serve` and in tests, never in production.
DEV_DEFAULTS = {
    "FARO_PUBLIC_URL": "http://localhost:5000",
    "FARO_SECRET_KEY": "dev-secret-key-not-for-production",
    "FARO_DATA_KEY": base64.urlsafe_b64encode(b"faro-development-data-key-32byte").decode(),
    "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
    "TWILIO_AUTH_TOKEN": "dev-twilio-auth-token",
    "TWILIO_SMS_FROM": "+15005550006",
    "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
    "TELEGRAM_BOT_TOKEN": "123456:dev-telegram-token",
    "TELEGRAM_WEBHOOK_SECRET": "dev-telegram-webhook-secret",
}

MODES = ("production", "development", "test")

# Alert sends per second per sender (DESIGN.md's provider limits, the safe end of each):
# Twilio SMS long code 1 segment/s, Twilio WhatsApp 10 msg/s, Telegram about 30 msg/s.
# FARO_RATE_SMS and the others override them; 0 means no limit (benchmarks only).
RATES = {"sms": 1.0, "whatsapp": 10.0, "telegram": 30.0}


@dataclass(frozen=True)
class Settings:
    """Everything Faro reads from its environment. Build it with `Settings.load`."""

    mode: str
    redis_url: str
    public_url: str
    secret_key: str
    data_key: bytes
    channels: tuple[str, ...]
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_sms_from: str
    twilio_whatsapp_from: str
    twilio_messaging_service_sid: str
    twilio_api_url: str
    telegram_bot_token: str
    telegram_webhook_secret: str
    telegram_api_url: str
    content_dir: str
    conversation_ttl: int
    dedupe_ttl: int
    lock_timeout_ms: int
    max_body_bytes: int
    log_level: str
    media_dir: str
    media_max_bytes: int
    retention_days: int
    proxy_hops: int
    keystore_url: str
    alert_rates: dict[str, float]
    approval_above: int
    whatsapp_templates: dict[str, str]
    alert_sms_fallback: bool
    broadcast_batch: int
    contact_rate: int  # messages a minute one contact gets answers to (0: no limit)
    metrics_token: str

    @property
    def development(self) -> bool:
        """True under `faro serve` and in tests, where well-known secrets are allowed."""
        return self.mode in ("development", "test")

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> Settings:
        """Read the environment, apply `overrides` (env names, any case), and validate."""
        env = {k.upper(): v for k, v in os.environ.items()}
        for key, value in (overrides or {}).items():
            env[key.upper()] = value
        mode = _mode(env)
        if mode != "production":
            for key, value in DEV_DEFAULTS.items():
                env.setdefault(key, value)
        channels = tuple(
            c.strip() for c in str(env.get("FARO_CHANNELS", "twilio,telegram")).split(",") if c
        )
        _require(env, mode, channels)
        return cls(
            mode=mode,
            redis_url=str(env.get("REDIS_URL", "")),
            public_url=str(env["FARO_PUBLIC_URL"]).rstrip("/"),
            secret_key=str(env["FARO_SECRET_KEY"]),
            data_key=_data_key(str(env["FARO_DATA_KEY"])),
            channels=channels,
            twilio_account_sid=str(env.get("TWILIO_ACCOUNT_SID", "")),
            twilio_auth_token=str(env.get("TWILIO_AUTH_TOKEN", "")),
            twilio_sms_from=str(env.get("TWILIO_SMS_FROM", "")),
            twilio_whatsapp_from=str(env.get("TWILIO_WHATSAPP_FROM", "")),
            twilio_messaging_service_sid=str(env.get("TWILIO_MESSAGING_SERVICE_SID", "")),
            twilio_api_url=str(env.get("TWILIO_API_URL", "https://api.twilio.com")).rstrip("/"),
            telegram_bot_token=str(env.get("TELEGRAM_BOT_TOKEN", "")),
            telegram_webhook_secret=str(env.get("TELEGRAM_WEBHOOK_SECRET", "")),
            telegram_api_url=str(env.get("TELEGRAM_API_URL", "https://api.telegram.org")).rstrip(
                "/"
            ),
            content_dir=str(env.get("FARO_CONTENT_DIR", "")),
            conversation_ttl=_int(env, "FARO_CONVERSATION_TTL", 6 * 3600),
            dedupe_ttl=_int(env, "FARO_DEDUPE_TTL", 48 * 3600),
            lock_timeout_ms=_int(env, "FARO_LOCK_TIMEOUT_MS", 10_000),
            max_body_bytes=_int(env, "FARO_MAX_BODY_BYTES", 256 * 1024),
            log_level=str(env.get("FARO_LOG_LEVEL", "INFO")).upper(),
            media_dir=str(env.get("FARO_MEDIA_DIR", ".faro/media")),
            media_max_bytes=_int(env, "FARO_MEDIA_MAX_BYTES", 16 * 1024 * 1024),
            retention_days=_int(env, "FARO_RETENTION_DAYS", 365),
            proxy_hops=_int(env, "FARO_PROXY_HOPS", 0),
            keystore_url=str(env.get("FARO_KEYSTORE_URL", "")),
            alert_rates={channel: _float(env, f"FARO_RATE_{channel.upper()}", default)
                         for channel, default in RATES.items()},
            approval_above=_int(env, "FARO_APPROVAL_ABOVE", 500),
            whatsapp_templates=_pairs(str(env.get("FARO_WHATSAPP_TEMPLATES", ""))),
            alert_sms_fallback=str(env.get("FARO_ALERT_SMS_FALLBACK", "0")).lower()
            in ("1", "true", "yes"),
            broadcast_batch=max(1, _int(env, "FARO_BROADCAST_BATCH", 200)),
            contact_rate=max(0, _int(env, "FARO_CONTACT_RATE", 20)),
            metrics_token=str(env.get("FARO_METRICS_TOKEN", "")),
        )

    def public(self) -> dict[str, Any]:
        """The settings with every secret masked, for `faro` diagnostics."""
        secret = {"secret_key", "data_key", "twilio_auth_token", "telegram_bot_token",
                  "telegram_webhook_secret", "metrics_token"}
        return {f.name: ("***" if f.name in secret else getattr(self, f.name))
                for f in fields(self)}


def _mode(env: Mapping[str, Any]) -> str:
    if env.get("TESTING") in (True, "1", "true", "True"):
        return "test"
    mode = str(env.get("FARO_ENV", "production")).lower()
    if mode not in MODES:
        raise ConfigError(f"FARO_ENV must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def _require(env: Mapping[str, Any], mode: str, channels: tuple[str, ...]) -> None:
    needed = ["FARO_PUBLIC_URL", "FARO_SECRET_KEY", "FARO_DATA_KEY"]
    if mode == "production":
        needed.insert(0, "REDIS_URL")
    if "twilio" in channels:
        needed += ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]
    if "telegram" in channels:
        needed += ["TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET"]
    for name in needed:
        if not env.get(name):
            raise ConfigError(
                f"{name} is not set. Faro will not start without it "
                "(set FARO_ENV=development only on a developer's machine)."
            )


def _data_key(value: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
    except (ValueError, TypeError) as exc:
        raise ConfigError("FARO_DATA_KEY must be urlsafe base64") from exc
    if len(key) != 32:
        raise ConfigError("FARO_DATA_KEY must decode to exactly 32 bytes")
    return key


def _float(env: Mapping[str, Any], name: str, default: float) -> float:
    try:
        value = float(env.get(name, default))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number") from exc
    if value < 0:
        raise ConfigError(f"{name} must be 0 (no limit) or more")
    return value


def _pairs(value: str) -> dict[str, str]:
    """ "security=HX1,default=HX2" -> {"security": "HX1", "default": "HX2"}."""
    pairs = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, sep, sid = item.partition("=")
        if not sep or not name.strip() or not sid.strip():
            raise ConfigError("FARO_WHATSAPP_TEMPLATES must look like security=HX...,default=HX...")
        pairs[name.strip()] = sid.strip()
    return pairs


def _int(env: Mapping[str, Any], name: str, default: int) -> int:
    try:
        return int(env.get(name, default))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a whole number") from exc
