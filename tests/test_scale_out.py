"""Scale-out: two `faro web` servers and two `faro worker` processes on one Redis.

One person talks to both servers in turn, through a flow whose every answer depends on the
state left by the message before; an alert fans out over both workers; the provider's retry
and status callback land on the other server. Nothing held in a process may matter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from rq import Worker

from bot.broadcasts import Area, Broadcasts, Spec
from bot.segments import to_gsm7 as gsm
from tests.alert_helpers import NO_LIMIT, kill, start_worker
from tests.conftest import twilio_signature
from worker.broadcast import launch

PHONE = "+5215512345678"
OTHERS = [f"+52155000000{n}" for n in range(4)]
PATH = "/webhooks/twilio/messages"
ALERT = "Hay retenes en la carretera a Tecate hoy."
# Each step's answer depends on the state the step before left (language, menu, topics, place).
STEPS = [
    ("hola", "Te voy a escribir en español"),
    ("6", "Ajustes. ¿Qué quieres cambiar?"),
    ("2", "¿Qué alertas quieres?"),
    ("2 5", "¿De qué lugar quieres recibir alertas?"),
    ("Tijuana", "¿Quieres alertas solo de Tijuana o de todo el estado de Baja California?"),
    ("1", "Listo. Vas a recibir alertas de Tijuana: Seguridad, Estafas."),
]


class Web:
    """One `faro web` (gunicorn) process on a port of its own."""

    def __init__(self, config: dict[str, Any], log: Path):
        with socket.socket() as probe:  # a free port; gunicorn binds it right after
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, **{k: "1" if v is True else str(v) for k, v in config.items()},
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "web", "--bind", f"127.0.0.1:{self.port}",
                 "--workers", "1"], env=env, stdout=out, stderr=subprocess.STDOUT)
        self.sids = 0

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            time.sleep(0.1)
        pytest.fail(f"faro web did not start:\n{self.log.read_text()[-2000:]}")

    def post(self, path: str, form: dict[str, str]) -> bytes:
        """POST `form` to `path`, signed as Twilio signs it for FARO_PUBLIC_URL."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=urllib.parse.urlencode(form).encode(),
            headers={"X-Twilio-Signature": twilio_signature(path, form)})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.read()

    def stop(self) -> None:
        self.proc.terminate()  # gunicorn's graceful stop takes its worker down with it
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def sms_form(sender: str, text: str, sid: str) -> dict[str, str]:
    return {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender,
            "To": "+15005550006", "Body": text, "NumMedia": "0"}


def texts(twiml: bytes) -> str:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return "\n".join(m.text or "" for m in root)


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    # One recipient per batch job, so the alert is several jobs for the workers to share.
    return {**config, **NO_LIMIT, "FARO_BROADCAST_BATCH": "1"}


@pytest.fixture
def cluster(config, tmp_path):
    """Two web servers and two workers, started together; all stopped at the end."""
    webs = [Web(config, tmp_path / f"web{n}.log") for n in range(2)]
    workers = [start_worker(config) for _ in range(2)]
    try:
        deadline = time.monotonic() + 30
        for web in webs:
            web.wait_ready(deadline)
        yield webs, workers
    finally:
        for web in webs:
            web.stop()
        for worker in workers:
            kill(worker)


def wait_for(check, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_servers_and_two_workers_serve_one_person_alternately(
        cluster, redis_client, fake_twilio):
    webs, _ = cluster
    sent: list[dict[str, str]] = []
    for n, (text, expected) in enumerate(STEPS):
        form = sms_form(PHONE, text, f"SM{n:032d}")
        sent.append(form)
        assert gsm(expected) in gsm(texts(webs[n % 2].post(PATH, form))), (n, text)
    # Twilio retries the last message on the other server: handled once, nothing said again.
    assert texts(webs[len(STEPS) % 2].post(PATH, sent[-1])) == ""
    for n, other in enumerate(OTHERS):  # a few more subscribers, on either server
        for step, (text, _) in enumerate(STEPS):
            webs[(n + step) % 2].post(PATH, sms_form(other, text, f"SM{n + 1}{step:031d}"))

    book = Broadcasts(redis_client)
    spec = Spec("casa-del-migrante", "Casa del Migrante", "cli", (Area("Baja California"),),
                "security", {"es": ALERT}, "es")
    bid = book.create(spec, needs_approval=False, now=dt.datetime.now(dt.UTC)).id
    fake_twilio.on_request = lambda entry: time.sleep(0.2)  # a slow provider: jobs overlap
    launch(redis_client, bid)
    wait_for(lambda: book.status(bid) == "done")
    fake_twilio.on_request = None

    to_person = [(m, sid) for m, sid in fake_twilio.accepted() if m["To"] == PHONE]
    assert len(to_person) == 1 and gsm(ALERT) in to_person[0][0]["Body"]
    assert {m["To"] for m, _ in fake_twilio.accepted()} == {PHONE, *OTHERS}
    busy = {w.name: w.successful_job_count for w in Worker.all(connection=redis_client)}
    assert len(busy) == 2 and all(busy.values()), busy  # both workers sent part of it

    # Its delivery callback reaches one server, whichever: counted once.
    params, sid = to_person[0]
    callback = params["StatusCallback"].removeprefix("https://faro.example.org")
    for web in webs:
        web.post(callback, {"MessageSid": sid, "MessageStatus": "delivered", "To": PHONE})
    assert book.get(bid).counts["delivered"] == 1
    # And the conversation goes on where it was, on either server.
    assert "¿Qué necesitas?" in texts(webs[0].post(PATH, sms_form(PHONE, "menu", "SMa")))
    assert gsm("Ajustes") in gsm(texts(webs[1].post(PATH, sms_form(PHONE, "6", "SMb"))))
