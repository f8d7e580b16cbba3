"""The HTTP under our provider calls: plain connections, kept open between calls.

The providers' own libraries make the calls (python-telegram-bot for the Bot API,
twilio-python for the REST API); this module is only their transport, through the hooks
both offer: a `telegram.request.BaseRequest` and a `twilio.http.HttpClient`. Their default
transports (httpx, requests) cost about a millisecond of CPU per call: headers merged,
cookies, hooks, the environment read again, and for httpx every CA certificate loaded per
client. Faro makes its calls one at a time from synchronous code (a webhook, a worker
thread), so an http.client connection per host, kept open, does the same for a fraction.

Proxies come from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), read once per host.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import logging
import select
import ssl
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import certifi
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from twilio.http import HttpClient
from twilio.http.response import Response

from bot.errors import FaroError

# What a request on a connection the server already closed fails with.
_STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


class HttpFailure(FaroError):
    """No answer: the connection failed or timed out. Worth another try."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


class Connections:
    """Kept-open HTTP/1.1 connections, one per host; not shared between threads."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.open: dict[tuple[str, str], http.client.HTTPConnection] = {}

    def close(self) -> None:
        """Close every connection."""
        for connection in self.open.values():
            connection.close()
        self.open.clear()

    def request(self, method: str, url: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None
                ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request: the status, headers and body of the answer; HttpFailure if none."""
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        for attempt in (1, 2):
            connection = self.connection(parts.scheme, parts.netloc)
            reused = connection.sock is not None
            try:
                forward = getattr(connection, "forward", None)
                if forward is not None:  # a plain HTTP proxy takes the whole URL
                    connection.request(method, url, body, {**(headers or {}), **forward})
                else:
                    connection.request(method, target, body, dict(headers or {}))
                response = connection.getresponse()
                return response.status, response.headers, response.read()
            except _STALE as exc:
                connection.close()
                if reused and attempt == 1:
                    # The server closed a kept-open connection just as we reused it (its
                    # FIN was still on the way): it never read this request, so one fresh
                    # try is safe.
                    continue
                raise HttpFailure(f"http.client.{type(exc).__name__}") from None
            except TimeoutError:
                connection.close()
                raise HttpFailure("timed out", timed_out=True) from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise HttpFailure(f"http.client.{type(exc).__name__}") from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def connection(self, scheme: str, host: str) -> http.client.HTTPConnection:
        """The open connection to `host`; a new one when the server closed ours."""
        connection = self.open.get((scheme, host))
        if connection is None:
            connection = self.open[scheme, host] = _connect(scheme, host, self.timeout)
        elif connection.sock is not None and select.select([connection.sock], [], [], 0)[0]:
            # An idle connection with something to read was closed by the server: a request
            # sent on it would fail. http.client opens a new one on the next request.
            connection.close()
        return connection


def _connect(scheme: str, host: str, timeout: float) -> http.client.HTTPConnection:
    """A new (not yet open) connection to `host`, through the environment's proxy if any."""
    proxy = _proxy(scheme, host)
    if proxy is None:
        if scheme == "https":
            return http.client.HTTPSConnection(host, timeout=timeout, context=_tls())
        return http.client.HTTPConnection(host, timeout=timeout)
    parts = urlsplit(proxy)
    auth = {}
    if parts.username:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode()}
    via, port = parts.hostname or "", parts.port or 8080
    if scheme == "https":  # a CONNECT tunnel: TLS runs end to end, the proxy sees no request
        connection = http.client.HTTPSConnection(via, port, timeout=timeout, context=_tls())
        connection.set_tunnel(host, headers=auth)
        return connection
    connection = http.client.HTTPConnection(via, port, timeout=timeout)
    connection.forward = auth  # type: ignore[attr-defined]  # plain HTTP: the proxy forwards
    return connection


@functools.cache
def _proxy(scheme: str, host: str) -> str | None:
    """The proxy URL the environment gives for `scheme` to `host`, or None."""
    if urllib.request.proxy_bypass_environment(host.rsplit(":", 1)[0]):
        return None
    return urllib.request.getproxies_environment().get(scheme)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process, with the CA certificates requests and httpx use."""
    return ssl.create_default_context(cafile=certifi.where())


def form(fields: Mapping[str, Any] | None) -> str:
    """`fields` URL-encoded as requests encodes them: None left out, lists repeated."""
    pairs: list[tuple[str, Any]] = []
    for name, value in (fields or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((name, v) for v in values if v is not None)
    return urlencode(pairs, quote_via=quote)


class KeptRequest(BaseRequest):
    """python-telegram-bot's transport over kept-open connections."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.connections = Connections(timeout)

    @property
    def read_timeout(self) -> float:
        """Seconds to wait for an answer (also for connecting and sending)."""
        return self.timeout

    async def initialize(self) -> None:
        """Nothing to open: a connection opens with the first request to its host."""

    async def shutdown(self) -> None:
        """Close every connection."""
        self.connections.close()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=None, write_timeout=None, connect_timeout=None,
                         pool_timeout=None) -> tuple[int, bytes]:
        """One request: the status and the body."""
        headers = {"User-Agent": self.USER_AGENT}
        body = None
        if request_data is not None:
            if request_data.contains_files:
                raise NetworkError("uploads are not supported: Faro sends files by URL")
            body = request_data.url_encoded_parameters()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            status, _headers, answer = self.connections.request(
                method, url, body.encode() if isinstance(body, str) else body, headers)
        except HttpFailure as exc:
            raise (TimedOut() if exc.timed_out else NetworkError(str(exc))) from None
        return status, answer


class KeptTwilio(HttpClient):
    """twilio-python's transport over kept-open connections (one sender thread each)."""

    def __init__(self, timeout: float):
        super().__init__(logging.getLogger("faro.twilio"), is_async=False, timeout=timeout)
        self.connections = Connections(timeout)

    def request(self, method: str, uri: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        """One REST call, as twilio-python asks for it; HttpFailure when no answer came.

        Nothing is logged: the parameters hold phone numbers and message bodies.
        """
        headers = dict(headers or {})
        if auth:
            pair = f"{auth[0]}:{auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        query = form(params)
        url = f"{uri}{'&' if '?' in uri else '?'}{query}" if query else uri
        body = None
        if method.upper() in ("POST", "PUT", "PATCH"):
            if headers.get("Content-Type", "").endswith("json"):
                body = json.dumps(data or {}).encode()
            else:
                body = form(data).encode()
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        status, answer_headers, answer = self.connections.request(method.upper(), url, body,
                                                                  headers)
        return Response(status, answer.decode("utf-8", "replace"), _Headers(answer_headers))


class _Headers(dict):
    """Response headers as twilio-python reads them: a dict, names in any case."""

    def __init__(self, message: Iterable[tuple[str, str]] | http.client.HTTPMessage):
        items = message.items() if isinstance(message, http.client.HTTPMessage) else message
        super().__init__((name.lower(), value) for name, value in items)

    def get(self, name: str, default: Any = None) -> Any:
        """The header `name` (any case)."""
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> Any:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())
