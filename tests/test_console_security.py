"""The console's defences where test_staff.py does not look: error pages, the simulator,
and a deployment behind a proxy."""

from __future__ import annotations

import pytest

from bot import create_app
from bot.staff.throttle import LIMITS
from tests.staff_helpers import Console, add_staff, quick_hashes, signed_in

ADMIN = "admin@example.org"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    quick_hashes(monkeypatch)


def assert_console_headers(response, hsts: bool = True) -> None:
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert ("Strict-Transport-Security" in headers) == hsts


def test_error_pages_of_a_signed_in_account_carry_the_headers(config):
    app = create_app({**config, "FARO_MAX_BODY_BYTES": "2048"})
    add_staff(app, ADMIN, "admin")
    browser = signed_in(app, ADMIN)
    too_big = browser.client.post("/staff/accounts/add",
                                  data={"csrf_token": browser.token(), "name": "x" * 4096})
    assert too_big.status_code == 413  # the page's sign-out form does not read the body again
    stale = browser.client.post("/staff/accounts/add", data={"csrf_token": "stale"})
    assert stale.status_code == 400 and "expired" in stale.get_data(as_text=True)
    for response in (too_big, stale):
        assert_console_headers(response)


def test_the_simulator_cannot_be_framed(client):
    # Its page sets a <meta> policy too, but browsers ignore frame-ancestors there.
    for response in (client.get("/simulator"), client.post("/simulator/send", json={})):
        assert_console_headers(response)


def test_behind_a_proxy_lockout_counts_the_client_not_the_proxy(config):
    app = create_app({**config, "FARO_PROXY_HOPS": "1"})
    add_staff(app, ADMIN, "admin")
    guesser = {"X-Forwarded-For": "198.51.100.7"}
    for n in range(LIMITS["ip"]):
        Console(app.test_client()).sign_in(f"guess{n % 4}-{n // 4}@example.org",
                                           "wrong password here", headers=guesser)
    assert Console(app.test_client()).sign_in(ADMIN, headers=guesser).status_code == 200
    staff = Console(app.test_client()).sign_in(ADMIN, headers={"X-Forwarded-For": "203.0.113.9"})
    assert staff.status_code == 302  # the proxy's own address (127.0.0.1) is not locked


def test_hsts_follows_the_public_url_not_the_proxy_hop(config):
    app = create_app({**config, "FARO_PROXY_HOPS": "1"})  # FARO_PUBLIC_URL is https://
    response = app.test_client().get("/staff/login", headers={"X-Forwarded-Proto": "http"})
    assert_console_headers(response)
    plain = create_app({**config, "FARO_PUBLIC_URL": "http://localhost:5000"}).test_client()
    assert_console_headers(plain.get("/staff/login"), hsts=False)
