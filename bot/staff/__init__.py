"""The staff console at /staff/: sign-in, dashboard, audit log, scam reports, cases,
accounts and shelter capacity.

`init_app(app)` registers the blueprint, CSRF protection for the console's forms, the
signed-in account of each request (`g.staff`) and the security headers of every page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from bot.staff import access, auth, broadcasts, capacity, cases, pages, roster, sessions
from bot.staff.accounts import everyone, org_names
from bot.staff.forms import SignOut

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates",
               static_folder="static", static_url_path="/static")
for part in (auth.bp, pages.bp, cases.bp, roster.bp, capacity.bp, broadcasts.bp):
    bp.register_blueprint(part)
csrf = CSRFProtect()

CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


def init_app(app: Flask) -> None:
    """Add the console to `app`."""
    app.config.update(
        PERMANENT_SESSION_LIFETIME=sessions.IDLE,
        WTF_CSRF_CHECK_DEFAULT=False,  # webhooks are signed, not CSRF-protected: check ours
        WTF_CSRF_TIME_LIMIT=sessions.IDLE,
        # With Referrer-Policy no-referrer, browsers send no Referer for this check to read.
        WTF_CSRF_SSL_STRICT=False)
    csrf.init_app(app)
    app.before_request(access.load)
    app.after_request(secure)
    app.register_blueprint(bp)


def orgs(redis: Any) -> list[tuple[str, str]]:
    """The organizations with at least one legal-aid account, as (id, name), by name."""
    names = org_names(redis)
    legal = {a.org for a in everyone(redis) if a.role == "legal"}
    return sorted(((oid, names.get(oid, oid)) for oid in legal),
                  key=lambda pair: pair[1].casefold())


@bp.before_request
def check_csrf() -> None:
    """Refuse any console POST without a valid CSRF token (400)."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@bp.context_processor
def page_parts() -> dict[str, Any]:
    """What every console page needs: the sign-out form when someone is signed in."""
    # formdata=None: drawing it never reads the request's body, which an error page (a 413)
    # must not do.
    return {"signout": SignOut(formdata=None) if g.get("staff") else None}


@bp.errorhandler(HTTPException)
def error_page(exc: HTTPException) -> tuple[str, int]:
    """A plain page for a console error; a stale form says so."""
    expired = isinstance(exc, CSRFError)
    return render_template("staff/error.html", exc=exc, expired=expired), exc.code or 500


def secure(response: Response) -> Response:
    """Add the console's security headers to every response under /staff/ and to the
    simulator, which production shows only to signed-in staff."""
    # The simulator's own <meta> policy cannot say frame-ancestors: browsers ignore it there.
    if not request.path.startswith(("/staff", "/simulator")):
        return response
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "staff.static":
        headers["Cache-Control"] = "no-store"  # pages show cases and names: keep them off disk
    if current_app.extensions["faro"].settings.public_url.startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response
