"""Signing in and out of the console."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for

from bot import audit
from bot.staff.access import accounts, faro, forget, record, require, safe_next, sign_in
from bot.staff.accounts import Account
from bot.staff.forms import SignIn
from bot.staff.throttle import Throttle

bp = Blueprint("auth", __name__)

# One message for a wrong password, an unknown email and a lockout: none is revealed.
FAILED = "Sign-in failed. Check your email and password, or wait 15 minutes and try again."


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; on a good email and password, start a session."""
    if g.staff is not None:
        return redirect(safe_next(request.args.get("next")))
    form = SignIn()
    if not form.validate_on_submit():
        return render_template("staff/login.html", form=form)
    account = attempt(form.email.data or "", form.password.data or "")
    if account is None:
        return render_template("staff/login.html", form=form, failed=FAILED)
    sign_in(account)
    g.staff = account
    record("signin.ok", ip=request.remote_addr or "")
    return redirect(safe_next(request.args.get("next")))


def attempt(email: str, password: str) -> Account | None:
    """The account when the password is right and nothing is locked out; count a failure."""
    book, redis = accounts(), faro().redis
    sid, address = book.sid_for(email), request.remote_addr or ""
    throttle = Throttle(redis, faro().settings.data_key)
    scopes = throttle.scopes(sid, address)
    if throttle.locked(scopes):
        audit.record(redis, sid, "signin.failed", reason="locked", ip=address)
        return None
    account = book.verify(email, password)
    if account is None:
        locked = throttle.fail(scopes)
        audit.record(redis, sid, "signin.failed", reason="password", ip=address, locked=locked)
        return None
    throttle.forgive(scopes)
    return account


@bp.post("/logout")
@require()
def logout():
    """End the session and go back to the sign-in form."""
    record("signout")
    forget()
    return redirect(url_for("staff.auth.login"))
