"""Accounts and capacity in a real headless Chromium on a phone-sized screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests import test_simulator_browser as chromium
from tests import test_staff_browser as console
from tests.staff_helpers import PASSWORD, add_staff

pytestmark = pytest.mark.browser
base_url, browser, page, page_errors = (chromium.base_url, chromium.browser, chromium.page,
                                        chromium.page_errors)
app, fits = console.app, console.fits


def sign_in(page: Page, email: str) -> None:
    page.goto("/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_shelter_staff_say_full_in_two_clicks_on_a_phone(app, page: Page) -> None:
    app.extensions["faro"].conversations.sources.shelters.ready()
    add_staff(app, "luz@la72.org", "shelter", org="La 72", shelter="la-72-tenosique")
    sign_in(page, "luz@la72.org")
    page.get_by_role("link", name="Capacity tell people").click()
    expect(page.get_by_test_id("capacity-now")).to_contain_text("No news")
    assert fits(page)
    page.get_by_role("button", name="Full").click()
    expect(page.get_by_test_id("capacity-now")).to_contain_text("Full")
    expect(page.get_by_test_id("saved")).to_have_text("Saved: Full.")
    page.get_by_label("Free beds").fill("7")
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_test_id("capacity-now")).to_contain_text("Open · 7 free beds")
    assert fits(page)


def test_an_admin_adds_and_removes_an_account_on_a_phone(app, page: Page) -> None:
    add_staff(app, "ada@faro.org", "admin", name="Ada")
    sign_in(page, "ada@faro.org")
    page.get_by_role("link", name="Accounts", exact=True).first.click()
    form = page.get_by_test_id("add-account")
    form.get_by_text("Add an account").click()
    form.get_by_label("Email").fill("luis@example.org")
    form.get_by_label("Name").fill("Luis")
    form.get_by_label("Organization").fill("Al Otro Lado")
    form.get_by_label("Role").select_option("legal")
    form.get_by_label("Region").select_option("Baja California")
    form.get_by_label("Initial password").fill(PASSWORD)
    form.get_by_role("button", name="Add account").click()
    expect(page.get_by_test_id("saved")).to_contain_text("Added Luis")
    assert fits(page)
    luis = page.get_by_test_id("accounts").locator("li").filter(
        has=page.get_by_text("Luis", exact=True))
    expect(luis).to_contain_text("Al Otro Lado · legal · Baja California")
    luis.locator("summary").click()
    luis.get_by_label("Yes, remove Luis").check()
    luis.get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("saved")).to_contain_text("Removed Luis")
    expect(luis).to_have_count(0)
    assert fits(page)
