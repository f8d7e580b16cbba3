"""Small local HTTP servers that speak the Twilio and Telegram APIs, for the real clients."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeServer:
    """An HTTP/1.1 server on 127.0.0.1 in a thread; records every request it answers."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.fail_next: list[int] = []  # status codes to answer before behaving again
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        params = _decode(handler.headers.get("Content-Type", ""), raw)
        entry = {"method": method, "path": handler.path, "params": params,
                 "headers": dict(handler.headers)}
        with self.lock:
            self.requests.append(entry)
            failure = self.fail_next.pop(0) if self.fail_next else None
        status, body = (failure, {"error": "injected"}) if failure else self.answer(entry)
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def answer(self, entry: dict[str, Any]) -> tuple[int, Any]:
        return 404, {"error": "not found"}

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.01)
        return list(self.requests)


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
    """The Bot API: getMe, sendMessage, answerCallbackQuery, and a few more."""

    def answer(self, entry: dict[str, Any]) -> tuple[int, Any]:
        method = entry["path"].rsplit("/", 1)[-1]
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 123456, "is_bot": True,
                                                "first_name": "Faro", "username": "faro_bot"}}
        if method == "sendMessage":
            params = entry["params"]
            chat = int(params.get("chat_id", 0))
            return 200, {"ok": True, "result": {
                "message_id": len(self.requests), "date": int(time.time()),
                "chat": {"id": chat, "type": "private"}, "text": params.get("text", "")}}
        if method in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return 200, {"ok": True, "result": True}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [r["params"] for r in self.requests if r["path"].endswith("/" + method)]


class FakeTwilio(FakeServer):
    """Twilio's Messages resource: POST creates a message and answers 201 with its JSON."""

    def answer(self, entry: dict[str, Any]) -> tuple[int, Any]:
        if entry["method"] == "POST" and entry["path"].endswith("/Messages.json"):
            sid = f"SM{len(self.requests):032d}"
            params = entry["params"]
            return 201, {"sid": sid, "status": "queued", "to": params.get("To"),
                         "from": params.get("From"), "body": params.get("Body"),
                         "account_sid": entry["path"].split("/")[3], "num_segments": "1"}
        return 404, {"code": 20404, "message": "not found", "status": 404}

    def messages(self) -> list[dict[str, Any]]:
        return [r["params"] for r in self.requests if r["path"].endswith("/Messages.json")]
