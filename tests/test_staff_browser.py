"""The console in a real headless Chromium on a phone-sized screen: sign in, open a case."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests import test_simulator_browser as chromium
from tests.staff_helpers import ACCOUNT, PASSWORD, add_staff, make_case, quick_hashes

pytestmark = pytest.mark.browser
# The simulator's browser fixtures: a served app, system Chromium, a phone-sized page.
base_url, browser, page, page_errors = (chromium.base_url, chromium.browser, chromium.page,
                                        chromium.page_errors)


@pytest.fixture
def app(config, tmp_path, monkeypatch):
    from bot import create_app

    quick_hashes(monkeypatch)
    # Plain http on 127.0.0.1: the browser must not drop a Secure cookie, so no https here.
    return create_app({**config, "FARO_PUBLIC_URL": "http://127.0.0.1",
                       "FARO_MEDIA_DIR": str(tmp_path / "media")})


def fits(page: Page) -> bool:
    """True when nothing sticks out sideways: no horizontal scrolling on a phone."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_legal_aid_signs_in_opens_a_case_and_signs_out_on_a_phone(app, page: Page) -> None:
    add_staff(app, "maria@alotrolado.org", "legal", name="María")
    code = make_case(app)
    page.goto("/staff/cases")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Email").fill("maria@alotrolado.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Open a case")
    assert fits(page)
    page.get_by_label("Case code").fill(code.lower())
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_test_id("case-code")).to_have_text(code)
    expect(page.get_by_test_id("items")).to_contain_text(ACCOUNT)
    expect(page.get_by_test_id("items")).to_contain_text("Qué pasó · What happened")
    assert fits(page)

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.goto(f"/staff/cases/{code}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_a_wrong_password_shows_one_plain_message(app, page: Page) -> None:
    page.goto("/staff/login")
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signin-failed")).to_contain_text("Sign-in failed")
    assert fits(page)
