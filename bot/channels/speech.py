"""Replies as TwiML Voice: what a caller hears, and the keys or the recording that answer.

A question becomes a <Gather> of keypad digits that Twilio posts back to the voice webhook
(a menu: one key; a date, a time, a number or several choices: keys, then #), or, where
the person tells something in their own words, a <Record> after a short <Gather> in which
1 skips it. When the caller presses nothing the question is said once more, then goodbye
and <Hangup>: a silent line is never kept open.

Text is said with Twilio's voice for the language (``voices`` in flows/languages.yaml).
A language Twilio cannot speak (Haitian Creole) is played from the phone copies of its
recordings; what has no recording is said in its ``voice_fallback`` language (French)
after a short note, once per call, that says so: honest, and understood by most people
of Haiti, where French is the other official language. A French voice reading Creole
spelling would sound close, but wrong often enough ("gen", "en", "w") to mislead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from twilio.twiml import TwiML
from twilio.twiml.voice_response import Gather, VoiceResponse

from bot.content import Content
from bot.engine import fill
from bot.message import Reply

MENU_SECONDS = 6  # the wait for a key once a menu has been said
ENTRY_SECONDS = 8  # the wait for each key of a date, a time, a number or several choices
LINE = "voice_language"  # the message a language menu's line says, and its recording's name
SKIP_SECONDS = 2  # the wait for 1 (skip) before a recording starts
RECORD_SECONDS = 300  # the longest account a caller can record: five minutes
RECORD_SILENCE = 10  # seconds of silence that end a recording
SAY_LIMIT = 3000  # characters in one <Say> (Twilio takes up to 4,096)
# Questions answered with several keys and then #, and what the caller is told to press.
KEYED = {"date": "voice_date", "time": "voice_time", "number": "voice_number",
         "choices": "voice_choices"}
UNANSWERABLE = ("text", "location")  # words a keypad cannot give (a flow's `voice` avoids them)
INTERNATIONAL = r"\+\d[\d ]{5,}\d"  # a phone number written as +52 934 342 1111


@dataclass
class Speaker:
    """Says replies in one TwiML answer: in the caller's voice, or from recordings."""

    content: Content
    audio_url: Callable[[str], str]  # a content path -> the URL Twilio fetches it at
    lang: str  # the caller's language, for replies that name none
    noted: bool = False  # the stand-in note was said in this call
    asks: list[TwiML] = field(default_factory=list)  # the verbs that post the answer

    def answer(self, replies: list[Reply], action: Callable[[bool], str]) -> VoiceResponse:
        """All of `replies` said; a question's keys posted to `action(noted)`, asked once
        more after silence; then goodbye."""
        response = VoiceResponse()
        question = replies[-1] if replies and replies[-1].expects else None
        if question is None:  # the conversation ended (or a limit held it): say it all
            for reply in replies:
                self.say(response, reply)
        else:
            self.ask_twice(response, replies[:-1], question)
            for verb in self.asks:  # known only now: whether the next turn needs the note
                verb.attrs["action"] = action(self.noted)
        return self.goodbye(response)

    def ask_twice(self, response: VoiceResponse, before: list[Reply], question: Reply) -> None:
        """What comes `before` the question, the question; after silence, the question again."""
        if question.expects != "language":
            self.lang = question.lang or self.lang
        first = self.ask(response, question)
        for reply in before:
            self.say(first, reply)
        self.prompt(first, question)
        self.recording(response, question)
        self.line(response, self.lang, "voice_silence")
        self.prompt(self.ask(response, question), question)
        self.recording(response, question)

    def ask(self, parent: VoiceResponse, question: Reply) -> Gather:
        """The <Gather> that collects the answer to `question`."""
        if question.expects in KEYED:
            gather = parent.gather(input="dtmf", method="POST", timeout=ENTRY_SECONDS,
                                   finish_on_key="#")
        else:
            wait = SKIP_SECONDS if question.expects == "record" else MENU_SECONDS
            gather = parent.gather(input="dtmf", method="POST", timeout=wait, num_digits=1)
        self.asks.append(gather)
        return gather

    def recording(self, parent: VoiceResponse, question: Reply) -> None:
        """For a question answered in the caller's own words: the <Record> of them."""
        if question.expects == "record":
            self.asks.append(parent.record(
                method="POST", max_length=RECORD_SECONDS, timeout=RECORD_SILENCE,
                finish_on_key="#", play_beep=True, trim="trim-silence"))

    def prompt(self, parent: VoiceResponse | Gather, question: Reply) -> None:
        """The question, its options read as keys to press, and how to answer it."""
        if question.expects == "language":
            self.languages(parent, question)
            return
        self.say(parent, question)
        hint = KEYED.get(question.expects, "")
        if question.expects == "record":
            hint = "voice_record"
        elif question.expects in UNANSWERABLE:
            hint = "voice_words"
        elif question.node == f"menu.{self.content.flows['menu'].start}":
            hint = "voice_keys"  # the main menu: how to come back to it, how to hear again
        if hint:
            self.line(parent, question.lang or self.lang, hint)

    def say(self, parent: VoiceResponse | Gather, reply: Reply) -> None:
        """One reply with its options: its recording where Twilio has no voice for it."""
        lang = reply.lang or self.lang
        spoken = self.content.speech(lang)
        copy = self.content.phone_copy(reply.audio) if reply.audio else ""
        if spoken != lang and copy:
            parent.play(self.audio_url(copy))  # the recording says the options too
            return
        press = self.content.t(spoken, self.content.messages["voice_press"])
        lines = [reply.text] + [fill(press, {"label": o.label.rstrip(" ?!."), "key": o.key})
                                for o in reply.options]
        self.speak(parent, lang, "\n".join(lines))

    def languages(self, parent: VoiceResponse | Gather, menu: Reply) -> None:
        """The language menu, each line in its own language's voice or recording: the
        line's own recording ("Pou kreyòl ayisyen, peze 4."), else the whole menu's."""
        for number, code in enumerate(self.content.languages, 1):
            key = {"key": str(number)}
            copy = next((found for name in (LINE, menu.node)
                         if (found := self.content.phone_copy(
                             self.content.audio.get((code, name), "")))), "")
            if self.content.speech(code) == code:
                self.speak(parent, code, self.text(code, LINE, **key))
            elif copy:
                parent.play(self.audio_url(copy))
            else:
                name = self.content.names[code]
                self.speak(parent, code, self.text(self.content.speech(code),
                                                   "voice_language_other", language=name, **key),
                           plain=True)

    def line(self, parent: VoiceResponse | Gather, lang: str, name: str) -> None:
        """A message of the pack, said to a caller of `lang`."""
        self.speak(parent, lang, self.text(self.content.speech(lang), name))

    def speak(self, parent: VoiceResponse | Gather, lang: str, text: str,
              plain: bool = False) -> None:
        """Say `text`, written for a caller of `lang`, in the voice of its language; first,
        unless `plain`, the stand-in note when that is not the caller's own language."""
        spoken = self.content.speech(lang)
        if spoken != lang and not plain and not self.noted:
            self.noted = True
            self.speak(parent, lang, self.text(spoken, "voice_fallback",
                                               language=self.content.names.get(lang, lang)),
                       plain=True)
        voice = self.content.voices.get(spoken, {})
        for part in chunks(digit_by_digit(self.content, for_speech(text)), SAY_LIMIT):
            parent.say(part, **voice)

    def text(self, lang: str, name: str, **values: str) -> str:
        """Message `name` of the pack in `lang`, filled in."""
        return fill(self.content.t(lang, self.content.messages[name]), values)

    def goodbye(self, response: VoiceResponse) -> VoiceResponse:
        """Goodbye, and hang up."""
        self.line(response, self.lang, "voice_goodbye")
        response.hangup()
        return response


def for_speech(text: str) -> str:
    """Text as a voice should read it: list dashes dropped, each line its own sentence."""
    lines = [line.strip().removeprefix("- ").strip() for line in text.splitlines()]
    return " ".join(line if line[-1] in ".:;?!" else line + "." for line in lines if line)


def digit_by_digit(content: Content, text: str) -> str:
    """Phone numbers spelled out, so that a voice says 911 as nine one one (in Spanish, not
    "novecientos once") and a caller can dial what they hear: the numbers of the pack's
    facts wherever they stand alone, and any number written with its country code."""
    phones = tuple(str(fact["phone"]) for fact in content.facts.values() if fact.get("phone"))
    return _phones(phones).sub(lambda m: " ".join(re.sub(r"\D", "", m.group(0))), text)


@functools.cache
def _phones(phones: tuple[str, ...]) -> re.Pattern[str]:
    alone = [rf"(?<![\w,.]){re.escape(p)}(?![\w,])" for p in sorted(phones, key=len, reverse=True)]
    return re.compile("|".join([INTERNATIONAL, *alone]))


def chunks(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size` characters, cut after a sentence where possible."""
    out = []
    while len(text) > size:
        cut = text.rfind(". ", 0, size)
        cut = cut + 1 if cut > size // 2 else size
        out.append(text[:cut])
        text = text[cut:].lstrip()
    return [*out, text]


def spoken_notice(content: Content, langs: list[str], name: str) -> VoiceResponse:
    """Message `name` said in each of `langs` (a caller we cannot serve now), then hang up."""
    response = VoiceResponse()
    for lang in dict.fromkeys(langs):
        Speaker(content, str, lang).line(response, lang, name)
    response.hangup()
    return response
