"""Small local HTTP servers that speak the Twilio and Telegram APIs, for the real clients."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeServer:
    """An HTTP/1.1 server on 127.0.0.1 in a thread; records every request it answers."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        # Failures to answer before behaving again: a status, or (status, provider error code).
        self.fail_next: list[int | tuple[int, int]] = []
        self.on_request: Any = None  # called with each recorded request (test hooks)
        self.keep_alive = True  # False: close each connection after one answer
        # True: a second request on a kept-open connection is dropped unanswered, as a
        # server does when its idle timeout closes the connection while the request travels.
        self.drop_reused = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, a kept-alive client
            # waits for a delayed ACK (about 40 ms) before the body arrives.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)
                # else: a client killed mid-request, as the worker crash tests do

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.fail_next.clear()
        self.on_request = None
        self.keep_alive = True
        self.drop_reused = False

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        if self.drop_reused and getattr(handler, "answered", False):
            handler.close_connection = True
            return
        handler.answered = True  # type: ignore[attr-defined]
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if len(raw) < length:
            return  # the client died mid-request: the provider never got a message
        params = _decode(handler.headers.get("Content-Type", ""), raw)
        # A request line with a whole URL came through us as a forward proxy: serve its path.
        proxied = handler.path.startswith("http://")
        target = urllib.parse.urlsplit(handler.path)
        path = (target.path + (f"?{target.query}" if target.query else "")) if proxied \
            else handler.path
        entry = {"method": method, "path": path, "params": params,
                 "headers": dict(handler.headers), "at": time.monotonic(),
                 "peer": handler.client_address, "proxied_to": target.netloc if proxied else ""}
        handler.close_connection = handler.close_connection or not self.keep_alive
        with self.lock:
            self.requests.append(entry)
            failure = self.fail_next.pop(0) if self.fail_next else None
        if self.on_request is not None:
            self.on_request(entry)
        if isinstance(failure, tuple):
            answer = (failure[0], {"code": failure[1], "message": "injected", "status": failure[0]})
        else:
            answer = (failure, {"error": "injected"}) if failure else self.answer(entry)
        status, body, headers = (*answer, {}) if len(answer) == 2 else answer
        if isinstance(body, Raw):
            _send_raw(handler, status, body, headers)
            return
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def answer(self, entry: dict[str, Any]) -> tuple[int, Any] | tuple[int, Any, dict[str, str]]:
        """(status, body) or (status, body, headers); a `Raw` body is sent as it is."""
        return 404, {"error": "not found"}

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.01)
        return list(self.requests)


@dataclass(frozen=True)
class Raw:
    """A body sent as bytes; `chunked` leaves out Content-Length, as a stream would, and
    `pause` waits that many seconds after each 64 KiB chunk (a slow network)."""

    data: bytes
    content_type: str = "application/octet-stream"
    chunked: bool = False
    pause: float = 0.0


def _send_raw(handler: BaseHTTPRequestHandler, status: int, body: Raw,
              headers: dict[str, str]) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", body.content_type)
    for name, value in headers.items():
        handler.send_header(name, value)
    if not body.chunked:
        handler.send_header("Content-Length", str(len(body.data)))
        handler.end_headers()
        handler.wfile.write(body.data)
        return
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for start in range(0, len(body.data), 65536):
        piece = body.data[start:start + 65536]
        try:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            handler.wfile.flush()
        except OSError:  # the client stopped reading: what a size cap does
            return
        time.sleep(body.pause)
    handler.wfile.write(b"0\r\n\r\n")


def _decode(content_type: str, raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    if "json" in content_type:
        return json.loads(raw)
    if "multipart" in content_type:
        return {"_multipart": raw.decode("latin-1")}
    parsed = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
    return {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}


class FakeTelegram(FakeServer):
    """The Bot API: getMe, sendMessage, sendVoice, answerCallbackQuery, getFile, downloads."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, dict[str, Any]] = {}  # file_id -> path, data, size shown

    def add_file(self, file_id: str, data: bytes, path: str = "", *,
                 size: int | None = None) -> None:
        """Serve `data` as file `file_id`; `size` is what getFile reports (default: the truth)."""
        self.files[file_id] = {"path": path or f"documents/{file_id}.bin", "data": data,
                               "size": len(data) if size is None else size}

    def clear(self) -> None:
        super().clear()
        self.files.clear()

    def answer(self, entry: dict[str, Any]) -> tuple[int, Any] | tuple[int, Any, dict]:
        if entry["path"].startswith("/file/bot"):
            return self._download(entry["path"])
        method = entry["path"].rsplit("/", 1)[-1]
        if method == "getFile":
            return self._get_file(entry["params"].get("file_id", ""))
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 123456, "is_bot": True,
                                                "first_name": "Faro", "username": "faro_bot"}}
        if method in ("sendMessage", "sendVoice"):
            params = entry["params"]
            chat = int(params.get("chat_id", 0))
            sent = {"text": params.get("text", "")} if method == "sendMessage" else {
                "voice": {"file_id": f"voice{len(self.requests)}", "file_unique_id": "v",
                          "duration": 1}}
            return 200, {"ok": True, "result": {
                "message_id": len(self.requests), "date": int(time.time()),
                "chat": {"id": chat, "type": "private"}, **sent}}
        if method in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return 200, {"ok": True, "result": True}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [r["params"] for r in self.requests if r["path"].endswith("/" + method)]

    def _get_file(self, file_id: str) -> tuple[int, Any]:
        file = self.files.get(file_id)
        if file is None:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: invalid file_id"}
        result = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_path": file["path"]}
        if file["size"]:
            result["file_size"] = file["size"]
        return 200, {"ok": True, "result": result}

    def _download(self, path: str) -> tuple[int, Any]:
        """GET /file/bot<token>/<file_path>, as Telegram's file host serves it."""
        wanted = path.split("/", 3)[-1]
        for file in self.files.values():
            if file["path"] == wanted:
                return 200, Raw(file["data"], chunked=True)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}


class FakeTwilio(FakeServer):
    """Twilio's Messages resource (POST answers 201), the Media of inbound messages and the
    Recordings of calls.

    A MediaUrl needs HTTP Basic auth with the account SID and `auth_token`; like Twilio,
    it may answer with a redirect to a file host that needs no auth and signs its URL.
    """

    auth_token = "test-twilio-token"  # the token tests/conftest.py gives the app

    def __init__(self) -> None:
        super().__init__()
        self.media: dict[str, dict[str, Any]] = {}  # MediaUrl path -> data, type, redirect

    def add_media(self, data: bytes, content_type: str, *, redirect_to: str | None = None,
                  chunked: bool = False, account: str = "AC" + "0" * 32,
                  pause: float = 0.0) -> str:
        """Serve `data` as the media of a new inbound message; its MediaUrl.

        `redirect_to` is the file host's base URL (this server under another name, so
        a client must drop its credentials there); None serves the bytes directly.
        """
        n = len(self.media) + 1
        path = f"/2010-04-01/Accounts/{account}/Messages/MM{n:032d}/Media/ME{n:032d}"
        self.media[path] = {"data": data, "type": content_type, "redirect": redirect_to,
                            "chunked": chunked, "file": f"/files/{account}/{n:064x}",
                            "pause": pause}
        return self.url + path

    def add_recording(self, data: bytes, account: str = "AC" + "0" * 32) -> tuple[str, str]:
        """Serve `data` as a call's recording; its (RecordingUrl, RecordingSid).

        Like Twilio, the RecordingUrl names no format: ".mp3" added to it serves the MP3
        (with the account's credentials, as a MediaUrl).
        """
        sid = f"RE{len(self.media) + 1:032x}"
        path = f"/2010-04-01/Accounts/{account}/Recordings/{sid}"
        self.media[path + ".mp3"] = {"data": data, "type": "audio/mpeg", "redirect": None,
                                     "chunked": False, "file": "", "pause": 0.0}
        return self.url + path, sid

    def clear(self) -> None:
        super().clear()
        self.media.clear()

    def answer(self, entry: dict[str, Any]) -> tuple[int, Any] | tuple[int, Any, dict]:
        path, _, query = entry["path"].partition("?")
        if entry["method"] == "GET" and path.endswith("/Messages.json"):
            return self._list(path, urllib.parse.parse_qs(query))
        if entry["method"] == "GET":
            return self._get_media(entry)
        if entry["method"] == "POST" and path.endswith("/Messages.json"):
            sid = f"SM{len(self.requests):032d}"
            params = entry["params"]
            entry["sid"] = sid
            return 201, {"sid": sid, "status": "queued", "to": params.get("To"),
                         "from": params.get("From"), "body": params.get("Body"),
                         "account_sid": path.split("/")[3], "num_segments": "1"}
        return 404, {"code": 20404, "message": "not found", "status": 404}

    def accepted(self) -> list[tuple[dict[str, Any], str]]:
        """(parameters, sid) of every message Twilio took (answered 201), in order."""
        with self.lock:
            return [(r["params"], r["sid"]) for r in self.requests if r.get("sid")]

    def _list(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """Messages sent, newest first, filtered by To and From (one page, as Twilio's)."""
        with self.lock:
            sent = [r for r in self.requests if r["method"] == "POST" and r.get("sid")]
        wanted = {"To": query.get("To", [None])[0], "From": query.get("From", [None])[0]}
        found = [{"sid": r["sid"], "to": r["params"].get("To"), "from": r["params"].get("From"),
                  "body": r["params"].get("Body"), "status": "sent"}
                 for r in reversed(sent)
                 if all(v is None or r["params"].get(k) == v for k, v in wanted.items())]
        return 200, {"messages": found, "next_page_uri": None, "page": 0,
                     "page_size": len(found), "uri": path}

    def messages(self) -> list[dict[str, Any]]:
        """The parameters of every message created (POST), in order."""
        return [r["params"] for r in self.requests
                if r["method"] == "POST" and r["path"].endswith("/Messages.json")]

    def _get_media(self, entry: dict[str, Any]) -> tuple[int, Any] | tuple[int, Any, dict]:
        path, _, _query = entry["path"].partition("?")
        for media in self.media.values():
            if media["file"] == path:  # the file host: the signed URL is the permission
                return 200, Raw(media["data"], media["type"], media["chunked"])
        media = self.media.get(path)
        if media is None:
            return 404, {"code": 20404, "message": "not found", "status": 404}
        if entry["headers"].get("Authorization") != self._basic(path.split("/")[3]):
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if media["redirect"]:
            signed = f"{media['redirect']}{media['file']}?Expires=1764000000&Signature=s3cr3t"
            return 307, {}, {"Location": signed}
        return 200, Raw(media["data"], media["type"], media["chunked"], media["pause"])

    def _basic(self, account: str) -> str:
        return "Basic " + base64.b64encode(f"{account}:{self.auth_token}".encode()).decode()
