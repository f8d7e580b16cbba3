"""The Flask application: one webhook per channel, the simulator, health."""

from __future__ import annotations

import gc
import logging
import re
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from rq import Queue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from bot import language, metrics, places
from bot.alerts import AlertLog
from bot.appointments import Appointments
from bot.casefile import signing_key
from bot.connection import connect, keystore
from bot.content import Content, load_content
from bot.conversation import Conversations
from bot.crypto import Keyring
from bot.effects import Effects
from bot.errors import BadRequest, ContactBusy, StoreUnavailable
from bot.evidence import Cases
from bot.logs import configure_logging
from bot.lookups import Shelters, Sources
from bot.media import LocalMediaStore
from bot.outbound import TelegramSender
from bot.recovery import Recovery
from bot.scams import Reports
from bot.settings import Settings
from bot.shelters import Directory
from bot.staff import orgs as staff_orgs
from bot.store import Store
from worker.media import enqueue_media

log = logging.getLogger("faro.web")
# A request id from a proxy is kept when it is this plain (nothing a log could misread).
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass
class Faro:
    """What the app's handlers share, kept on `app.extensions["faro"]`."""

    settings: Settings
    redis: redis.Redis
    content: Content
    store: Store
    conversations: Conversations
    telegram: TelegramSender


def build(settings: Settings) -> Faro:
    """Everything the app needs, from the settings."""
    client = connect(settings)
    content = load_content(settings.content_dir or None)
    store = Store(client, Keyring(settings.data_key),
                  conversation_ttl=settings.conversation_ttl, dedupe_ttl=settings.dedupe_ttl,
                  lock_timeout_ms=settings.lock_timeout_ms,
                  keystore=keystore(settings, client))
    shelters = Shelters(Directory(client), content.data.get("shelters", {}).get("shelters", []))
    cases = Cases(client, LocalMediaStore(settings.media_dir),
                  signing_seed=signing_key(settings.data_key))
    appointments = Appointments(client)
    sources = Sources(appointments=appointments, alerts=AlertLog(client), shelters=shelters,
                      cases=cases, organizations=lambda: staff_orgs(client),
                      trusted_hosts=(urlsplit(settings.public_url).hostname or "",))
    places.prepare()
    language.prepare()
    media_queue = Queue("default", connection=client)
    effects = Effects(store=store, content=content, appointments=appointments, cases=cases,
                      reports=Reports(client, settings.data_key, content.data.get("scams")),
                      recovery=Recovery(client, settings.data_key),
                      enqueue_media=partial(enqueue_media, media_queue))
    conversations = Conversations(store, content, sources, effects, rate=settings.contact_rate)
    return Faro(settings, client, content, store, conversations, TelegramSender(settings))


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Faro web app. Settings come from the environment; `config` overrides them."""
    settings = Settings.load(config)
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.session_interface = CookieSessions()
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_body_bytes,
                      TESTING=settings.mode == "test", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"))
    if settings.proxy_hops:
        # Behind a load balancer, trust its X-Forwarded-For/-Proto (for sign-in limits).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops,
                                x_proto=settings.proxy_hops)
    app.extensions["faro"] = build(settings)
    from bot import audio, staff
    from bot.channels import simulator, telegram, twilio, voice

    for blueprint in (twilio.bp, voice.bp, telegram.bp, simulator.bp, audio.bp):
        app.register_blueprint(blueprint)
    staff.init_app(app)
    app.add_url_rule("/healthz", "healthz", healthz)
    app.before_request(_request_id)
    app.before_request(_limit_body)
    app.after_request(_echo_request_id)
    metrics.init_app(app)
    _errors(app)
    if not app.testing:
        # All built so far lives as long as the process. Frozen, it is left out of full
        # garbage collections, which would otherwise walk it (about 60 ms) mid-request.
        gc.freeze()
    return app


def healthz() -> tuple[Response, int]:
    """200 when Redis answers, 503 when it does not."""
    from flask import current_app

    try:
        current_app.extensions["faro"].redis.ping()
    except redis.RedisError:
        return jsonify(status="unavailable", redis=False), 503
    return jsonify(status="ok", redis=True), 200


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a body nested too deep to parse is bad JSON (a 400), not a crash."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse `s`; ValueError, which `request.get_json` answers with a 400, if too deep."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, opened only where a page uses them.

    A provider's webhook call carries no cookie and needs no session: opening one builds a
    signing serializer on each request, a cost that every inbound message would pay.
    """

    def open_session(self, app: Flask, request: Any) -> Any:
        """None (Flask's read-only null session) for the webhooks, else the cookie's."""
        if request.path.startswith("/webhooks/"):
            return None
        return super().open_session(app, request)


def _limit_body() -> None:
    """Refuse a body over FARO_MAX_BODY_BYTES with a 413, whether or not a view reads it."""
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def _request_id() -> None:
    """Take the caller's X-Request-ID (a proxy's) when it looks like one, else make one."""
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]


def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    return response


def _errors(app: Flask) -> None:
    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest):
        log.info("rejected request", extra={"status": exc.status, "reason": str(exc)})
        metrics.failed("forbidden" if exc.status == 403 else "bad_request")
        return jsonify(error=str(exc)), exc.status

    @app.errorhandler(StoreUnavailable)
    @app.errorhandler(redis.RedisError)
    def unavailable(exc: Exception):
        log.error("redis unavailable", extra={"error": type(exc).__name__})
        metrics.failed("redis")
        return jsonify(error="temporarily unavailable, try again"), 503

    @app.errorhandler(ContactBusy)
    def busy(exc: ContactBusy):
        log.warning("contact stayed locked")
        metrics.failed("busy")
        return jsonify(error="busy, try again"), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        metrics.failed("bad_request" if (exc.code or 500) < 500 else "internal")
        return jsonify(error=exc.name), exc.code

    @app.errorhandler(Exception)
    def crash(exc: Exception):
        log.exception("unhandled error", extra={"error": type(exc).__name__})
        metrics.failed("internal")
        return jsonify(error="internal error"), 500
