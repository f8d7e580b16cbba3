"""The HTTP under our Bot API calls: plain connections, kept open between calls.

python-telegram-bot's own client (httpx, asynchronous) costs about a millisecond of CPU
per call, and building one loads every CA certificate again. Faro makes its calls one
at a time from synchronous code (a webhook, a worker thread), so an http.client
connection per host, kept open, does the same for a fraction of that.
"""

from __future__ import annotations

import functools
import http.client
import select
import ssl
from urllib.parse import urlsplit

import certifi
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class KeptRequest(BaseRequest):
    """A python-telegram-bot request object over kept-open http.client connections."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.connections: dict[tuple[str, str], http.client.HTTPConnection] = {}

    @property
    def read_timeout(self) -> float:
        """Seconds to wait for an answer (also for connecting and sending)."""
        return self.timeout

    async def initialize(self) -> None:
        """Nothing to open: a connection opens with the first request to its host."""

    async def shutdown(self) -> None:
        """Close every connection."""
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=None, write_timeout=None, connect_timeout=None,
                         pool_timeout=None) -> tuple[int, bytes]:
        """One request: the status and the body."""
        parts = urlsplit(url)
        headers = {"User-Agent": self.USER_AGENT}
        body = None
        if request_data is not None:
            if request_data.contains_files:
                raise NetworkError("uploads are not supported: Faro sends files by URL")
            body = request_data.url_encoded_parameters()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            connection = self.connection(parts.scheme, parts.netloc)
            reused = connection.sock is not None
            try:
                connection.request(method, target, body, headers)
                response = connection.getresponse()
                return response.status, response.read()
            except _STALE as exc:
                connection.close()
                if reused and attempt == 1:
                    # The server closed a kept-open connection just as we reused it (its
                    # FIN was still on the way): it never read this request, so one fresh
                    # try is safe.
                    continue
                raise NetworkError(f"http.client.{type(exc).__name__}") from None
            except TimeoutError:
                connection.close()
                raise TimedOut() from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise NetworkError(f"http.client.{type(exc).__name__}") from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def connection(self, scheme: str, host: str) -> http.client.HTTPConnection:
        """The open connection to `host`; a new one when the server closed ours."""
        connection = self.connections.get((scheme, host))
        if connection is None:
            connection = self.connections[scheme, host] = (
                http.client.HTTPSConnection(host, timeout=self.timeout, context=_tls())
                if scheme == "https" else http.client.HTTPConnection(host, timeout=self.timeout))
        elif connection.sock is not None and select.select([connection.sock], [], [], 0)[0]:
            # An idle connection with something to read was closed by the server: a request
            # sent on it would fail. http.client opens a new one on the next request.
            connection.close()
        return connection


# What a request on a connection the server already closed fails with.
_STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process, with the CA certificates httpx would use."""
    return ssl.create_default_context(cafile=certifi.where())
