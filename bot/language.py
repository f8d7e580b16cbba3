"""Language of a short message: es, en, fr, pt or ht, or None when unsure or not served.

Three passes, cheapest first:

1. Script and chat words. Text with no Latin letters is not a served language. A whole message
   that is a common greeting or chat word ("hola", "bonjou", "oi", "hi", "mèsi") is answered
   from a small table.
2. A word model with a character n-gram backoff (``bot/data/langid.bin.gz``, built offline by
   ``scripts/build_language_model.py``; see ``bot/data/README.md``). Each word costs
   -log P(word | language) under a mixture of a word list and a character 4-gram model, for the
   five served languages and for seven that Faro does not serve (Mayan languages, Nahuatl, Otomi,
   Mixtec, Wolof, Turkish, German). Posteriors follow from the summed costs: when the unserved
   languages together outweigh the served ones the answer is None, and the best served language
   must also stand out from the other served ones.
3. langdetect, restricted to the es, en, fr and pt profiles, settles a close call between two of
   those languages on texts of four words or more; it is unreliable on fewer.

Words are compared case-, accent- and apostrophe-insensitively (people type without accents, and
Mayan glottal stops come as ' ’ ʼ or ´); an accent that is typed still counts as evidence.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import threading
import unicodedata
from functools import cache
from importlib import resources

SERVED = ("es", "en", "fr", "pt", "ht")
MODEL_FILE = "langid.bin.gz"

# Bits per class in a packed cost vector: costs of all classes travel as one Python int, so
# adding a word's costs to the running total is a single addition instead of a loop.
FIELD_BITS = 24
# Costs are stored in 1/16 nat, each stored value clipped to 12 bits (256 nats). With at most
# MAX_TOKENS words of at most MAX_WORD characters (each character at most 4 lookups), a sum stays
# below 2**FIELD_BITS, so no field ever carries into the next.
SCALE = 16
VALUE_BITS = 12
MAX_TOKENS = 24
MAX_WORD = 30
# Only the start of a long text is read: a language shows in its first words.
MAX_CHARS = 1000

# Above this posterior mass on unserved languages the answer is None: precision first.
MAX_UNSERVED = 0.5
# The best served language needs this share of the served posterior mass; below it the call
# is too close (es/pt/fr share many short words) and langdetect or None decides.
MIN_SHARE = 0.5
# Prior cost in nats: Spanish is by far the most common language of people writing to Faro in
# Mexico, so an ambiguous word ("que", "entre", "era") is read as Spanish.
PRIOR_COST = {"es": 0.0, "en": 0.5, "fr": 0.7, "pt": 0.5, "ht": 0.5}
UNSERVED_PRIOR_COST = 1.0
# langdetect (es, en, fr, pt profiles only) settles a close call between two of those languages
# on a text of at least TIEBREAK_MIN_WORDS words, where the best one has less than
# TIEBREAK_SHARE of the served mass; it is too unreliable on fewer words.
LANGDETECT_LANGS = ("es", "en", "fr", "pt")
TIEBREAK_MIN_WORDS = 4
TIEBREAK_SHARE = 0.75

_APOSTROPHES = str.maketrans(dict.fromkeys("’ʼ´`‘′ʻꞌ", "'"))
_SKIP = re.compile(r"(?:https?://|www\.|\S+\.(?:com|org|net|mx|ht|br|gov)\b)|[@#]|\d")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*'?")
# A vowel typed three times or more is chat stretching ("holaaa", "oiii"), never spelling.
_STRETCH = re.compile(r"([aeiouàáâãèéêìíîòóôõùúû])\1{2,}")
# French-style elision (l'eau, qu'il, j'ai; also Haitian m'ap): split like the word lists do.
_ELISION = re.compile(r"^(qu|jusqu|lorsqu|puisqu|[ldjcmnst])'(?=[^\W\d_])")


def fold(word: str) -> str:
    """Lowercase a word, strip its accents and make its apostrophes ASCII."""
    word = unicodedata.normalize("NFKD", word.translate(_APOSTROPHES).lower())
    return "".join(c for c in word if not unicodedata.combining(c))


def is_latin(char: str) -> bool:
    """Tell whether a letter belongs to the Latin script (with its accented forms)."""
    code = ord(char)
    return code < 0x250 or 0x1E00 <= code <= 0x1EFF or 0x2C60 <= code <= 0x2C7F or code == 0xA78C


def typed_words(text: str) -> list[str]:
    """Split a message into lowercase words as typed, dropping links, handles and numbers."""
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES).lower()
    text = _STRETCH.sub(r"\1", text)
    words: list[str] = []
    for chunk in text.split():
        if _SKIP.search(chunk):
            continue
        for match in _WORD.finditer(chunk.replace("-", " ")):
            words.extend(_split_elision(match.group()))
    return words


def tokens(text: str) -> list[str]:
    """Split a message into folded words (lowercase, no accents), as the word lists store them."""
    return [fold(word) for word in typed_words(text)]


def _split_elision(word: str) -> list[str]:
    """Split an elided article or pronoun from its word (l'asile -> l, asile)."""
    match = _ELISION.match(word)
    if match is None:
        return [word]
    return [match.group(1), word[match.end() :]]


def _mostly_latin(text: str) -> bool:
    """Tell whether most letters of the text are Latin (Cyrillic, Arabic, Han... are not served)."""
    latin = other = 0
    for char in text:
        if char.isalpha():
            if is_latin(char):
                latin += 1
            else:
                other += 1
    return latin > 0 and latin >= other


# Whole messages that name no language: shared by several served languages. None lets the
# conversation offer the numbered language menu, which is what someone typing "menu" wants.
SHARED_WORDS = frozenset({"menu", "ok", "okay", "oke", "info", "hotel", "taxi", "whatsapp"})
# Whole messages that are greetings or chat words of one served language.
CHAT_PHRASES = {
    "es": ["hola", "buenas", "buenos días", "buenas tardes", "buenas noches", "gracias",
           "muchas gracias", "ayuda", "necesito ayuda", "qué tal", "saludos", "adiós",
           "por favor", "porfa", "grax", "menú", "español", "en español", "hola buenas", "ola"],
    "en": ["hi", "hello", "hey", "thanks", "thank you", "thx", "ty", "pls", "plz",
           "good morning", "good evening", "good night", "help", "please help", "english",
           "in english", "hi there", "hello there"],
    "fr": ["bonjour", "bonsoir", "salut", "slt", "merci", "merci beaucoup", "au secours",
           "français", "en français", "s'il vous plaît", "svp", "stp", "aidez-moi"],
    "pt": ["oi", "olá", "obrigado", "obrigada", "obg", "vlw", "muito obrigado",
           "muito obrigada", "bom dia", "boa tarde", "boa noite", "socorro", "português",
           "em português", "tudo bem", "oi tudo bem", "ola"],
    "ht": ["bonjou", "bonswa", "bnswa", "mèsi", "mèsi anpil", "sak pase", "alo", "wi", "èd",
           "tanpri", "kreyòl", "an kreyòl", "kijan ou ye", "kòman ou ye"],
}


@cache
def _chat_tables() -> tuple[dict[str, str], dict[str, str]]:
    """Map chat phrases to languages, as typed (lowercase) and folded; drop ambiguous ones."""
    exact: dict[str, str] = {}
    folded: dict[str, str] = {}
    clashes: set[str] = set()
    for lang, phrases in CHAT_PHRASES.items():
        for phrase in phrases:
            words = typed_words(phrase)
            exact[" ".join(words)] = lang
            key = " ".join(fold(word) for word in words)
            if folded.get(key, lang) != lang:
                clashes.add(key)
            folded[key] = lang
    # "ola" is Portuguese "olá" typed without its accent, or Spanish "hola" misspelt.
    for key in clashes:
        del folded[key]
        exact.pop(key, None)
    return exact, folded


def _chat(words: list[str]) -> str | None:
    """Return the language of a message that is a known chat phrase."""
    exact, folded = _chat_tables()
    return exact.get(" ".join(words)) or folded.get(" ".join(fold(word) for word in words))


TABLES = ("lex", "ngrams", "backoff", "accents")
VECTORS = ("oov", "unknown_char", "accent_default")


class _Model:
    """The word and character n-gram tables, costs packed per class."""

    def __init__(self, header: dict, tables: dict[str, dict[str, int]]) -> None:
        self.classes: list[str] = header["classes"]
        self.order: int = header["order"]
        self.lex = tables["lex"]
        self.ngrams = tables["ngrams"]
        self.backoff = tables["backoff"]
        self.accents = tables["accents"]
        self.oov, self.unknown_char, self.accent_default = (header[v] for v in VECTORS)
        self.prior = pack([PRIOR_COST.get(c, UNSERVED_PRIOR_COST) for c in self.classes])

    def word_cost(self, typed: str) -> int:
        """Return the packed cost of one word as typed (lowercase)."""
        word = fold(typed)
        packed = self.lex.get(word)
        if packed is None:
            packed = self.oov + self.char_cost(word)
        if word != typed:
            # A typed accent is evidence ("não", "lè"); a missing one is not, people skip them.
            packed += self.accents.get(typed, self.accent_default)
        return packed

    def char_cost(self, word: str) -> int:
        """Return the packed character n-gram cost of a word, end marker included."""
        pad = self.order - 1
        text = "<" * pad + word[:MAX_WORD] + ">"
        ngrams, backoff = self.ngrams, self.backoff
        total = 0
        for end in range(pad + 1, len(text) + 1):
            # Interpolated model: an n-gram unseen in every class costs its context's backoff
            # weight plus the next lower order, exactly as at build time.
            start = end - self.order
            while True:
                packed = ngrams.get(text[start:end])
                if packed is not None:
                    total += packed
                    break
                if start == end - 1:
                    total += self.unknown_char
                    break
                total += backoff.get(text[start : end - 1], 0)
                start += 1
        return total


def pack(costs: list[float]) -> int:
    """Pack per-class costs in nats into one int, FIELD_BITS bits per class."""
    packed = 0
    for index, cost in enumerate(costs):
        packed |= min(round(cost * SCALE), (1 << VALUE_BITS) - 1) << (index * FIELD_BITS)
    return packed


def unpack(packed: int, size: int) -> list[float]:
    """Unpack a packed cost vector into per-class costs in nats."""
    mask = (1 << FIELD_BITS) - 1
    return [((packed >> (i * FIELD_BITS)) & mask) / SCALE for i in range(size)]


def dump_model(header: dict, tables: dict[str, dict[str, int]]) -> bytes:
    """Serialize a model: a JSON header line, then per table its keys and fixed-width costs."""
    width = len(header["classes"]) * FIELD_BITS // 8
    header = {**header, "sizes": {}}
    body = []
    for name in TABLES:
        keys = sorted(tables[name])
        key_blob = "\n".join(keys).encode("utf-8")
        header["sizes"][name] = [len(keys), len(key_blob)]
        body.append(key_blob)
        body.append(b"".join(tables[name][key].to_bytes(width, "little") for key in keys))
    # mtime=0 keeps the file byte-identical across rebuilds of the same sources.
    head = json.dumps(header, sort_keys=True).encode("utf-8") + b"\n"
    return gzip.compress(head + b"".join(body), compresslevel=9, mtime=0)


def load_model(blob: bytes) -> _Model:
    """Read a model written by dump_model."""
    data = gzip.decompress(blob)
    end = data.index(b"\n")
    header = json.loads(data[:end])
    width = len(header["classes"]) * FIELD_BITS // 8
    offset = end + 1
    tables = {}
    for name in TABLES:
        count, key_bytes = header["sizes"][name]
        keys = data[offset : offset + key_bytes].decode("utf-8").split("\n") if count else []
        offset += key_bytes
        values = memoryview(data)[offset : offset + count * width]
        offset += count * width
        tables[name] = {
            key: int.from_bytes(values[i * width : (i + 1) * width], "little")
            for i, key in enumerate(keys)
        }
    return _Model(header, tables)


_load_lock = threading.Lock()
_loaded: list[_Model] = []


def _model() -> _Model:
    """Load the model once per process, also when several threads ask at once."""
    if not _loaded:
        with _load_lock:
            if not _loaded:
                blob = (resources.files("bot") / "data" / MODEL_FILE).read_bytes()
                _loaded.append(load_model(blob))
    return _loaded[0]


def prepare() -> None:
    """Load the model now (about 0.25 s) rather than on a person's first message."""
    _model()


def scores(words: list[str]) -> dict[str, float]:
    """Return each class's total cost in nats (prior included) for words as typed."""
    model = _model()
    total = model.prior
    for word in words[:MAX_TOKENS]:
        total += model.word_cost(word)
    return dict(zip(model.classes, unpack(total, len(model.classes)), strict=True))


def posteriors(costs: dict[str, float]) -> dict[str, float]:
    """Turn per-class costs in nats into posterior probabilities."""
    best = min(costs.values())
    weights = {cls: math.exp(best - cost) for cls, cost in costs.items()}
    total = sum(weights.values())
    return {cls: weight / total for cls, weight in weights.items()}


def detect(text: str) -> str | None:
    """Return the served language of a short message, or None when unsure or not served."""
    if not isinstance(text, str):
        return None
    text = text[:MAX_CHARS]
    if not _mostly_latin(text):
        return None
    words = typed_words(text)
    if not words or (len(words) == 1 and fold(words[0]) in SHARED_WORDS):
        return None
    chat = _chat(words)
    if chat is not None:
        return chat
    return decide(text, words, posteriors(scores(words)))


def decide(text: str, words: list[str], post: dict[str, float]) -> str | None:
    """Pick the served language from posteriors, or None when unserved or too close to call."""
    unserved = sum(p for cls, p in post.items() if cls not in SERVED)
    if unserved > MAX_UNSERVED:
        return None
    ranked = sorted(SERVED, key=post.__getitem__, reverse=True)
    best, second = ranked[0], ranked[1]
    share = post[best] / (1 - unserved)
    close = len(words) >= TIEBREAK_MIN_WORDS and share < TIEBREAK_SHARE
    if close and best in LANGDETECT_LANGS and second in LANGDETECT_LANGS:
        return _tiebreak(text, best, second)
    return best if share >= MIN_SHARE else None


def _tiebreak(text: str, first: str, second: str) -> str | None:
    """Let langdetect choose between two close languages it knows, or return None."""
    answer = _langdetect(text)
    return answer if answer in (first, second) else None


_langdetect_lock = threading.Lock()
_factories: list = []


def _langdetect_factory():
    """Build, once, a langdetect factory with only es, en, fr and pt profiles and a fixed seed."""
    if not _factories:
        with _langdetect_lock:
            if not _factories:
                # Imported here: langdetect is only needed for the rare close call.
                from langdetect.detector_factory import DetectorFactory

                factory = DetectorFactory()
                profiles = resources.files("langdetect") / "profiles"
                factory.load_json_profile(
                    [(profiles / lang).read_text("utf-8") for lang in LANGDETECT_LANGS]
                )
                # Its sampling is random: a fixed seed gives the same answer for the same text.
                factory.set_seed(0)
                _factories.append(factory)
    return _factories[0]


def _langdetect(text: str) -> str | None:
    """Return langdetect's answer among es, en, fr and pt, or None when it has none."""
    from langdetect.lang_detect_exception import LangDetectException

    detector = _langdetect_factory().create()
    detector.append(text)
    try:
        return detector.detect()
    except LangDetectException:
        return None
