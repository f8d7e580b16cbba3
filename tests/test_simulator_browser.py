"""The simulator page in a real headless Chromium: a conversation, three channel views."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.browser


@pytest.fixture
def base_url(app) -> Iterator[str]:
    """The app served over real HTTP from a thread, as a browser needs it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from the system: Playwright's own download does not work here."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: install Chromium (apt-get install chromium) "
                    "to run the browser tests; they must not be skipped.", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Script errors and console errors of the page; a test may clear the ones it caused."""
    return []


@pytest.fixture
def page(browser: Browser, base_url: str, page_errors: list[str]) -> Iterator[Page]:
    """A phone-sized page (390x844) that must log no errors."""
    context = browser.new_context(base_url=base_url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("console", lambda m: page_errors.append(m.text) if m.type == "error" else None)
    try:
        yield page
    finally:
        context.close()
    assert not page_errors, f"the page logged errors: {page_errors}"


def say(page: Page, text: str) -> None:
    """Type into the message box and press Enter, as a person would."""
    box = page.get_by_test_id("message-input")
    expect(page.get_by_test_id("send")).to_be_enabled()
    box.fill(text)
    box.press("Enter")


def test_conversation_in_every_channel_view(page: Page, tmp_path: Path) -> None:
    page.goto("/simulator")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "messages go through the real pipeline; nothing is sent to anyone")
    messages = page.get_by_test_id("messages")
    expect(messages).to_have_attribute("aria-live", "polite")
    faro = page.get_by_test_id("faro-message")

    # A new person says hello and gets the language menu, in two languages.
    say(page, "Nanga def")
    expect(page.get_by_test_id("person-message").last).to_have_text(re.compile("Nanga def"))
    expect(faro.last).to_contain_text("Elige tu idioma")
    expect(faro.last).to_contain_text("Choose your language")
    expect(faro.last).to_contain_text("1. Español")

    # Typing the number works: the Spanish main menu.
    say(page, "1")
    expect(faro.last).to_contain_text("¿Qué necesitas?")
    expect(faro.last).to_contain_text("5. Emergencia")

    say(page, "5")
    expect(faro.last).to_contain_text("911")

    # The same history as Telegram shows it: buttons under the message.
    page.get_by_test_id("tab-telegram").click()
    expect(page.get_by_test_id("tab-telegram")).to_have_attribute("aria-selected", "true")
    expect(faro).to_have_count(3)  # every past reply is drawn again, in Telegram's style
    expect(faro.first.get_by_role("button", name="1. Español")).to_be_visible()
    button = faro.last.get_by_role("button", name=re.compile("Me piden dinero por teléfono"))
    button.click()
    expect(page.get_by_test_id("person-message").last).to_contain_text(
        "Me piden dinero por teléfono")
    expect(faro.last).to_contain_text("No pagues")
    expect(faro.last.get_by_test_id("tg-button").first).to_be_visible()

    # WhatsApp: *bold* markers become bold text, never shown as asterisks.
    page.get_by_test_id("tab-whatsapp").click()
    menu = faro.nth(1)
    expect(menu.locator("strong", has_text="5.")).to_be_visible()
    expect(menu).not_to_contain_text("*5.*")

    # SMS: no buttons, the numbers are in the text, each reply says what it costs.
    page.get_by_test_id("tab-sms").click()
    expect(page.get_by_test_id("tab-sms")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("tg-button")).to_have_count(0)
    expect(faro.last).to_contain_text("No pagues")
    segments = page.get_by_test_id("sms-segments")
    expect(segments.last).to_be_visible()
    expect(segments.last).to_have_text(re.compile(r"^\d+ SMS segments?$"))
    expect(segments).to_have_count(faro.count())

    shot = tmp_path / "simulator.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert len(data) > 1000
    assert data.startswith(PNG_MAGIC)


def test_location_escaping_and_new_person(page: Page) -> None:
    page.goto("/simulator")
    faro = page.get_by_test_id("faro-message")
    say(page, "Nanga def")
    expect(faro.last).to_contain_text("Elige tu idioma")
    say(page, "1")
    expect(faro.last).to_contain_text("¿Qué necesitas?")

    page.get_by_test_id("share-location").click()
    expect(page.get_by_test_id("person-message").last).to_contain_text("32.5149, -117.0382")
    expect(faro).to_have_count(3)

    # Message text is text, never markup.
    say(page, "<b>x</b>")
    expect(page.get_by_test_id("person-message").last).to_have_text(re.compile("<b>x</b>"))
    expect(faro).to_have_count(4)
    expect(page.get_by_test_id("messages").locator("b")).to_have_count(0)

    # The tabs follow the ARIA tabs pattern: arrow keys move between channels.
    page.get_by_test_id("tab-sms").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("tab-whatsapp")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("tab-whatsapp")).to_be_focused()
    expect(page.get_by_test_id("sms-segments")).to_have_count(0)

    # A reload keeps the history of this tab, and the chosen channel.
    page.reload()
    expect(faro).to_have_count(4)
    expect(page.get_by_test_id("tab-whatsapp")).to_have_attribute("aria-selected", "true")

    # A new person is a new contact: the language menu again, not the Spanish menu.
    page.get_by_test_id("new-person").click()
    expect(faro).to_have_count(0)
    expect(page.get_by_test_id("status")).to_contain_text("New person")
    say(page, "Nanga def")
    expect(faro.last).to_contain_text("Elige tu idioma")


def test_a_failed_send_is_shown_and_can_be_retried(page: Page, page_errors: list[str]) -> None:
    page.goto("/simulator")
    page.route("**/simulator/send", lambda route: route.fulfill(
        status=503, json={"error": "temporarily unavailable, try again"}))
    say(page, "Nanga def")
    expect(page.get_by_test_id("status")).to_contain_text("temporarily unavailable")
    expect(page.get_by_test_id("person-message").last).to_contain_text("Not delivered")
    expect(page.get_by_test_id("message-input")).to_have_value("Nanga def")
    expect(page.get_by_test_id("faro-message")).to_have_count(0)
    page_errors.clear()  # the browser logs the 503 we asked for

    page.unroute("**/simulator/send")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("faro-message").last).to_contain_text("Elige tu idioma")
    expect(page.get_by_test_id("status")).to_be_hidden()


def test_voice_notes_play_in_whatsapp_and_telegram_views_only(page: Page) -> None:
    page.goto("/simulator")
    faro = page.get_by_test_id("faro-message")
    say(page, "Nanga def")
    expect(faro.last).to_contain_text("Elige tu idioma")
    voice = page.get_by_test_id("voice-note")
    expect(voice).to_have_count(0)  # SMS never carries audio

    page.get_by_test_id("tab-whatsapp").click()
    expect(voice).to_have_count(1)
    expect(voice).to_have_attribute("src", "/audio/es/welcome.language.ogg")
    seconds = voice.evaluate("""a => new Promise((ok, fail) => {
        a.addEventListener("loadedmetadata", () => ok(a.duration), {once: true});
        a.addEventListener("error", () => fail(new Error("cannot play")), {once: true});
        a.preload = "metadata"; a.load(); })""")
    assert seconds > 1

    page.get_by_test_id("tab-telegram").click()
    expect(voice).to_have_count(1)
    expect(faro.first.get_by_test_id("voice-note")).to_be_visible()


def test_a_phone_call_with_the_keypad(page: Page, tmp_path: Path) -> None:
    page.goto("/simulator")
    page.get_by_test_id("tab-call").click()
    expect(page.get_by_test_id("tab-call")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("call-panel")).to_be_visible()
    expect(page.get_by_test_id("message-input")).to_be_hidden()  # a call has a keypad
    transcript = page.get_by_test_id("call-transcript")
    expect(transcript).to_have_attribute("aria-live", "polite")
    keypad = page.get_by_test_id("keypad")
    expect(keypad.get_by_role("button", name="1", exact=True)).to_be_disabled()  # no call yet

    # A new caller hears each language in its own voice, Creole from its recording.
    page.get_by_test_id("call-button").click()
    line = page.get_by_test_id("call-line")
    expect(line.first).to_contain_text("Para español, oprime 1.")
    expect(line.first).to_contain_text("es-MX")
    expect(page.get_by_test_id("call-audio")).to_have_attribute(
        "src", "/audio/ht/voice_language.mp3")
    expect(page.get_by_test_id("call-button")).to_have_text("Hang up")
    expect(page.get_by_test_id("call-wait")).to_contain_text("for a key")

    keypad.get_by_role("button", name="1", exact=True).click()
    expect(transcript).to_contain_text("¿Qué necesitas? Para Citas en la frontera, oprime 1.")
    keypad.get_by_role("button", name="5", exact=True).click()
    expect(line.last).to_contain_text("Llama al 9 1 1.")
    expect(keypad.get_by_role("button", name="Star")).to_be_in_viewport()  # fits a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scroll"

    # Silence: the question once more, then goodbye; the call is over.
    page.get_by_test_id("call-silence").click()
    expect(line.last).to_contain_text("¿Estás en peligro ahora?")
    expect(line.nth(-2)).to_have_text(re.compile("No escuché nada"))
    page.get_by_test_id("call-silence").click()
    expect(line.last).to_contain_text("Gracias por llamar a Faro. Adiós.")
    expect(page.get_by_test_id("call-system").last).to_have_text("The call has ended.")
    expect(page.get_by_test_id("call-button")).to_have_text("Call")
    expect(keypad.get_by_role("button", name="5", exact=True)).to_be_disabled()
    page.screenshot(path=str(tmp_path / "call.png"), full_page=True)

    # The chat is a person of its own, untouched by the call.
    page.get_by_test_id("tab-sms").click()
    expect(page.get_by_test_id("empty")).to_be_visible()
    expect(page.get_by_test_id("message-input")).to_be_visible()
