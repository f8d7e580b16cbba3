"""A caller on the voice line, driving the webhook as Twilio does: signed posts, each to the
URL that the last answer's <Gather>, <Record> or <Redirect> named."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from tests.conftest import PUBLIC_URL, twilio_signature

PATH = "/webhooks/twilio/voice"
PHONE = "+5215512345678"
ACCOUNT = "AC" + "0" * 32
LINE = "+15005550006"
ASKING = ("Gather", "Record", "Redirect")
_calls = itertools.count(1)


class Caller:
    """One phone calling the voice line; each call gets a new CallSid."""

    def __init__(self, client, number: str = PHONE):
        self.client, self.number = client, number
        self.sid, self.next = "", PATH
        self.last: tuple[str, dict[str, str]] = (PATH, {})

    def call(self):
        """Dial: the call's first request."""
        self.sid, self.next = f"CA{next(_calls):032x}", PATH
        return self.post(CallStatus="ringing")

    def press(self, keys: str):
        """Press `keys` where the last answer listens."""
        return self.post(Digits=keys)

    def record(self, fake_twilio, data: bytes, seconds: int = 30):
        """Speak where the last answer records: Twilio posts the recording it made."""
        url, sid = fake_twilio.add_recording(data)
        return self.post(RecordingUrl=url, RecordingSid=sid, RecordingDuration=str(seconds),
                         Digits="#")

    def retry(self):
        """Twilio sends the last request once more (our answer came too late)."""
        path, form = self.last
        return self.send(path, form)

    def post(self, **fields: str):
        """Post `fields` to where the last answer said, as Twilio signs it."""
        form = {"CallSid": self.sid, "AccountSid": ACCOUNT, "From": self.number, "To": LINE,
                "CallStatus": "in-progress", "Direction": "inbound",
                "ApiVersion": "2010-04-01", **fields}
        return self.send(self.next, form)

    def send(self, path: str, form: dict[str, str]):
        self.last = (path, form)
        response = self.client.post(path, data=form,
                                    headers={"X-Twilio-Signature": twilio_signature(path, form)})
        if response.status_code == 200:
            self.next = next_path(response) or self.next
        return response


def twiml(response) -> ET.Element:
    """The <Response> of a TwiML Voice answer; fails unless it is one."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return root


def next_path(response) -> str:
    """The path (and query) the answer posts the caller's next move to; "" if none."""
    for verb in twiml(response).iter():
        if verb.tag in ASKING:
            url = verb.get("action") or verb.text or ""
            return url.removeprefix(PUBLIC_URL)
    return ""


def said(response) -> list[str]:
    """The texts of every <Say>, in order."""
    return [say.text or "" for say in twiml(response).iter("Say")]


def heard(response) -> list[str]:
    """The texts of the <Say>s of the first <Gather>: what a caller hears before answering."""
    return [say.text or "" for say in twiml(response).find("Gather").iter("Say")]


def pretty(response) -> str:
    """The TwiML, indented: a golden transcript's answer."""
    root = twiml(response)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")
