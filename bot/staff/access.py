"""Who is signed in, and what their role lets them open."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for

from bot import audit
from bot.shelters import Directory
from bot.staff import sessions
from bot.staff.accounts import Account, Accounts

SESSION_FIELDS = ("staff", "role", "token")


def faro() -> Any:
    """The app's shared parts (settings, redis, content, store)."""
    return current_app.extensions["faro"]


def accounts() -> Accounts:
    """The console's accounts."""
    return Accounts(faro().redis, faro().settings.data_key)


def directory() -> Directory:
    """The shelter directory, filled from the content pack if this process has not yet."""
    return faro().conversations.sources.shelters.ready()


def load() -> None:
    """Find this request's signed-in account; forget a session that ended or was revoked."""
    g.staff = None
    if current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return  # webhooks carry no cookie: leave their session untouched
    sid = session.get("staff")
    if not sid:
        return
    account = accounts().get(sid) if sessions.resume(faro().redis, session.get("token"),
                                                     sid) else None
    if account is None:
        forget()
        return
    g.staff = account
    session["role"] = account.role  # the record decides; a role change applies at once


def sign_in(account: Account) -> None:
    """Start a new session for `account`, dropping everything the old cookie held."""
    session.clear()  # a fresh CSRF token and no fixation of a pre-sign-in session
    session.permanent = True
    session.update(staff=account.sid, role=account.role,
                   token=sessions.start(faro().redis, account.sid))


def forget() -> None:
    """End this browser's session, here and in Redis."""
    sessions.end(faro().redis, session.get("token", ""))
    for name in SESSION_FIELDS:
        session.pop(name, None)


def current() -> Account:
    """The signed-in account (views behind `require` only)."""
    return g.staff


def require(*roles: str, hide: bool = False) -> Callable:
    """Send a signed-out visitor to sign in; answer a wrong role with 403 (404 if `hide`)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if g.get("staff") is None:
                back = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("staff.auth.login", next=back))
            if roles and g.staff.role not in roles:
                record("access.denied", request.path, method=request.method)
                abort(404 if hide else 403)
            return view(*args, **kwargs)

        return guarded

    return decorate


def record(action: str, target: str = "", **details: Any) -> None:
    """Write one console action of the signed-in account to the audit log."""
    audit.record(faro().redis, g.staff.sid, action, target, **details)


def safe_next(target: str | None) -> str:
    """`target` when it is a path inside the console, else the dashboard (no open redirect)."""
    target = target or ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff/") or "\\" in target:
        return url_for("staff.pages.dashboard")
    return target
