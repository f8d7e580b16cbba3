"""An alert in a real headless Chromium on a phone: one coordinator writes it, a second
approves it, and the progress bar fills while a real `faro worker` process sends it."""

from __future__ import annotations

from collections.abc import Iterator
from subprocess import Popen

import pytest
from playwright.sync_api import Page, expect

from bot.segments import to_gsm7 as gsm
from tests import test_simulator_browser as chromium
from tests import test_staff_admin_browser as admin
from tests import test_staff_browser as console
from tests.alert_helpers import NO_LIMIT, address, enroll, kill, start_worker
from tests.staff_helpers import add_staff

pytestmark = pytest.mark.browser
base_url, browser, page, page_errors = (chromium.base_url, chromium.browser, chromium.page,
                                        chromium.page_errors)
app, fits, sign_in = console.app, console.fits, admin.sign_in
TEXT = "Hoy habrá retenes en la carretera a Tecate. Eviten viajar de noche."
PEOPLE = 4


@pytest.fixture
def config(config):
    return {**config, **NO_LIMIT, "FARO_APPROVAL_ABOVE": str(PEOPLE - 2)}


@pytest.fixture
def worker(config) -> Iterator[Popen]:
    """A real worker process, as in production: it polls Redis, the browser polls the app.

    A process rather than a thread: RQ's worker installs signal handlers, which only the
    main thread may do, and killing it (with its work horse) always stops it.
    """
    process = start_worker(config)
    yield process
    kill(process)


def test_two_coordinators_send_a_large_alert_from_their_phones(
        app, page: Page, worker, fake_twilio) -> None:
    enroll(app, PEOPLE)
    fake_twilio.clear()
    for name in ("Cora", "Carlos"):
        add_staff(app, f"{name.lower()}@example.org", "coordinator", org="Red Fronteriza",
                  name=name)

    sign_in(page, "cora@example.org")
    page.get_by_role("link", name="Alerts", exact=True).click()
    page.get_by_role("link", name="New alert").click()
    page.get_by_label("States").select_option("Baja California")
    page.get_by_label("Topic").select_option(label="Safety")
    page.get_by_label("Español (es)").fill(TEXT)
    expect(page.locator("[data-counter=es]")).to_contain_text("1 SMS segment (GSM-7)")
    expect(page.get_by_test_id("audience")).to_have_text(
        f"{PEOPLE} people. A second person must approve it.")
    expect(page.locator("#audience-detail")).to_contain_text("Area: Baja California 4")
    assert fits(page)
    page.get_by_role("button", name="Send alert").click()

    expect(page.get_by_test_id("status")).to_have_text("awaiting approval")
    expect(page.get_by_test_id("waiting")).to_contain_text("must approve it")
    expect(page.get_by_test_id("approve")).to_have_count(0)
    page.get_by_test_id("sign-out").click()

    sign_in(page, "carlos@example.org")
    page.get_by_role("link", name="Alerts", exact=True).click()
    page.get_by_test_id("alerts").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alert from Red Fronteriza")
    page.get_by_role("button", name="Approve and send").click()

    expect(page.get_by_test_id("percent")).to_have_text("100%", timeout=30_000)
    expect(page.get_by_test_id("bar")).to_have_attribute("value", "100")
    expect(page.get_by_test_id("status")).to_have_text("done")
    expect(page.get_by_test_id("sent")).to_have_text(str(PEOPLE))
    expect(page.get_by_role("button", name="Cancel the alert")).to_be_hidden()
    assert fits(page)
    sent = {m["To"]: m["Body"] for m in fake_twilio.messages() if gsm(TEXT) in m["Body"]}
    assert set(sent) == {address("sms", n) for n in range(PEOPLE)}
    assert all(body.startswith(gsm("Aviso de Red Fronteriza:")) for body in sent.values())
