"""What an SMS costs: segments counted as the network counts them, and the cheaper form."""

from bot.segments import cheapest, is_gsm7, segments, to_gsm7


def test_gsm7_texts_cost_a_segment_per_160_then_153_characters():
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2 and segments("a" * 307) == 3
    # The extension table's characters take two places each.
    assert segments("€" * 80) == 1 and segments("€" * 81) == 2
    assert segments("") == 1


def test_one_character_outside_gsm7_makes_the_whole_text_ucs2():
    assert not is_gsm7("a" * 100 + "á")
    assert segments("a" * 69 + "á") == 1
    assert segments("a" * 70 + "á") == 2
    # An emoji is two UTF-16 code units.
    assert segments("a" * 68 + "😀") == 1 and segments("a" * 69 + "😀") == 2


def test_sms_drops_only_the_accents_gsm7_lacks_and_only_when_that_saves():
    text = "Atención: la revisión es mañana. " * 3  # á, ó lacking; ñ is GSM-7
    plain = cheapest(text)
    assert plain == "Atencion: la revision es mañana. " * 3
    assert segments(plain) < segments(text)
    # One short reply costs one segment either way: it keeps its accents.
    assert cheapest("¿Cómo estás?") == "¿Cómo estás?"


def test_typography_and_letters_gsm7_has_are_kept_or_made_plain():
    assert to_gsm7("“Hola”… it’s – ok") == '"Hola"... it\'s - ok'
    assert to_gsm7("ñ é è ò ü Ç") == "ñ é è ò ü Ç"
    assert to_gsm7("ã ê ô ç") == "a e o c"
    assert to_gsm7("mwen bezwen èd") == "mwen bezwen èd"
    # No plain letter: left as is (the text stays UCS-2).
    assert to_gsm7("日本 😀") == "日本 😀"


def test_the_same_text_gives_the_same_form_every_time():
    text = "Olá, ação e informação: São Paulo → Tijuana 😀 " * 4
    first = to_gsm7(text)
    assert all(to_gsm7(text) == first for _ in range(3))
    assert first.startswith("Ola, acao e informacao: Sao Paulo")
