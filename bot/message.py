"""What flows between channels and the engine: one inbound type, one reply type."""

from __future__ import annotations

from dataclasses import dataclass, field

# Channels whose addresses are phone numbers share one contact key space, so that a
# person who texts and later calls (the voice line) keeps one contact and one state.
KEY_SPACE = {"sms": "phone", "voice": "phone", "whatsapp": "whatsapp", "telegram": "telegram"}
# What a reply's question waits for (Reply.expects), so that a channel with no words, the
# voice line, can offer keys, a keypad entry or a recording instead.
EXPECTS = ("choice", "choices", "language", "date", "time", "number", "text", "record",
           "location")


@dataclass(frozen=True)
class Media:
    """An attachment a person sent: where to fetch it, and what it claims to be."""

    url: str
    content_type: str = ""
    kind: str = "file"  # photo, document, voice, audio, video, file


@dataclass(frozen=True)
class Inbound:
    """One message from a person, the same shape whatever channel it came by."""

    channel: str
    address: str
    text: str = ""
    message_id: str = ""
    choice: str = ""  # a button's payload (Telegram callback data, WhatsApp ButtonPayload)
    location: tuple[float, float] | None = None
    media: tuple[Media, ...] = ()
    profile_name: str = field(default="", repr=False)
    # Instead of a message: "call", a call began (greet as MENU would, guessing no
    # language); "again", say the question the conversation waits on once more.
    event: str = ""

    def __repr__(self) -> str:  # never print the address or the body
        return f"Inbound(channel={self.channel!r}, id={self.message_id!r})"

    @property
    def key_space(self) -> str:
        """The channel name used in the contact id (phone channels share one)."""
        return KEY_SPACE.get(self.channel, self.channel)

    @property
    def voice(self) -> bool:
        """True on the voice line: the person hears the replies and answers with the keypad
        or a recording, never with written words."""
        return self.channel == "voice"


@dataclass(frozen=True)
class Option:
    """One numbered choice of a menu."""

    key: str
    label: str


@dataclass(frozen=True)
class Reply:
    """One message to a person; `options` make it a menu; `audio` names its recording."""

    text: str
    options: tuple[Option, ...] = ()
    audio: str = ""  # content-relative path of a recording of this message, e.g. audio/es/x.ogg
    expects: str = ""  # a question: what it waits for (one of EXPECTS); "" for a statement
    node: str = ""  # the "flow.node" it says, to find its recordings in other languages
    lang: str = ""  # the person's language when it was written

    def numbered_lines(self) -> list[str]:
        """The options as the plain "1. Label" lines every channel can show."""
        return [f"{o.key}. {o.label}" for o in self.options]
