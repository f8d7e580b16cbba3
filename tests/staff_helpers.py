"""Helpers for console tests: accounts, CSRF tokens read from real pages, signing in."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from argon2 import PasswordHasher

from bot import keys
from bot.evidence import Cases, signing_key
from bot.media import LocalMediaStore
from bot.staff import accounts
from bot.staff.accounts import Account, Accounts

PASSWORD = "correct horse battery staple"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
PDF = b"%PDF-1.4\n% a denuncia\n%%EOF\n"
ACCOUNT = "Me retuvieron tres días en Reynosa y perdí la cita."
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# The real parameters cost 64 MiB and a sixth of a second per hash; tests check the flow.
QUICK = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def quick_hashes(monkeypatch: Any) -> None:
    """Hash passwords with cheap argon2id parameters for the rest of a test."""
    monkeypatch.setattr(accounts, "hasher", lambda: QUICK)


def add_staff(app: Any, email: str, role: str, org: str = "Al Otro Lado",
              name: str = "", region: str = "", shelter: str = "") -> Account:
    """Create a console account in the app's Redis, with PASSWORD."""
    faro = app.extensions["faro"]
    book = Accounts(faro.redis, faro.settings.data_key)
    return book.add(email, name or email.split("@")[0].title(), org, role, PASSWORD,
                    region, shelter)


def csrf_token(response: Any) -> str:
    """The CSRF token of the form in a console page."""
    found = TOKEN.search(response.get_data(as_text=True))
    assert found, "no CSRF token in the page"
    return found.group(1)


class Console:
    """Drives the console through a test client, as a browser would."""

    def __init__(self, client: Any):
        self.client = client

    def token(self, page: str = "") -> str:
        """A CSRF token from a form the console serves (sign-in form, else the dashboard)."""
        response = self.client.get(page or "/staff/login")
        if response.status_code == 302 and not page:
            response = self.client.get("/staff/")  # signed in already
        return csrf_token(response)

    def sign_in(self, email: str, password: str = PASSWORD, **kwargs: Any) -> Any:
        """Post the sign-in form with a token from the sign-in page."""
        return self.client.post("/staff/login", data={
            "email": email, "password": password, "csrf_token": self.token()}, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, page: str = "/staff/") -> Any:
        """Post to `path` with the CSRF token of `page`."""
        return self.client.post(path, data={**(data or {}), "csrf_token": self.token(page)})

    def sign_out(self) -> Any:
        """Post the sign-out form from the dashboard."""
        return self.post("/staff/logout")


def signed_in(app: Any, email: str) -> Console:
    """A new browser signed in as `email`."""
    console = Console(app.test_client())
    assert console.sign_in(email).status_code == 302
    return console


def make_case(app: Any, org: str = "al-otro-lado") -> str:
    """A Spanish speaker's case (two texts, a photo, a document) shared with `org`; its code."""
    faro = app.extensions["faro"]
    keyring, redis = faro.store.keyring, faro.redis
    cid = keyring.contact_id("sms", "+5215512345678")
    data_key, wrapped = keyring.new_data_key(cid)
    redis.hset(keys.contact(cid), mapping={"l": "es"})
    faro.store.keystore.put(cid, wrapped)
    book = Cases(redis, LocalMediaStore(faro.settings.media_dir),
                 signing_seed=signing_key(faro.settings.data_key))
    now = dt.datetime(2026, 1, 5, 14, 3, tzinfo=dt.UTC)
    code = book.open(cid, data_key, now)
    book.add_text(cid, data_key, "event", "kidnapping", now)
    book.add_text(cid, data_key, "account", ACCOUNT, now)
    book.add_media(cid, data_key, "photo", PNG, "image/png", now)
    book.add_media(cid, data_key, "document", PDF, "application/pdf", now)
    book.share(cid, org, now)
    return code
