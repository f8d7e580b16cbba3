"""A fast fake of Twilio's Messages API and Telegram's sendMessage, for benchmarks.

An asyncio HTTP/1.1 server with keep-alive, in its own process, so that it is never what
limits a benchmark of Faro. It counts every message and keeps its arrival time;
`GET /stats` returns {"twilio": n, "telegram": n, "times": {"sms": [...], ...}}.
(Tests use tests/fakes.py, which records every request in detail.)

Run: python scripts/fakeprovider.py PORT
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.parse
from collections import defaultdict

times: dict[str, list[float]] = defaultdict(list)


def answer(method: str, path: str, body: bytes) -> tuple[int, bytes]:
    """The status and JSON body the real API would give."""
    if method == "GET" and path == "/stats":
        counts = {"twilio": len(times["sms"]) + len(times["whatsapp"]),
                  "telegram": len(times["telegram"])}
        return 200, json.dumps({**counts, "times": times}).encode()
    if method == "POST" and path == "/reset":
        times.clear()
        return 200, b"{}"
    if method == "POST" and path.endswith("/Messages.json"):
        form = urllib.parse.parse_qs(body.decode())
        to = form.get("To", [""])[0]
        times["whatsapp" if to.startswith("whatsapp:") else "sms"].append(time.time())
        n = len(times["sms"]) + len(times["whatsapp"])
        return 201, json.dumps({"sid": f"SM{n:032d}", "status": "queued", "to": to,
                                "body": form.get("Body", [""])[0]}).encode()
    if method == "POST" and path.endswith("/sendMessage"):
        times["telegram"].append(time.time())
        form = urllib.parse.parse_qs(body.decode())
        chat = int(form.get("chat_id", ["0"])[0])
        return 200, json.dumps({"ok": True, "result": {
            "message_id": len(times["telegram"]), "date": int(time.time()),
            "chat": {"id": chat, "type": "private"}, "text": form.get("text", [""])[0]}}).encode()
    return 404, b'{"error": "not found"}'


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer requests on one connection until the client closes it."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", 0) or 0))
            status, data = answer(method, path, body)
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
