"""Phone copies of recordings: the MP3 the voice line plays where Twilio has no voice.

Twilio's <Play> takes MP3 or WAV, not the Ogg Opus that WhatsApp and Telegram play as
voice notes. `faro content phone-audio` decodes each recording of a language the voice
line plays from recordings (one Twilio cannot speak: Haitian Creole) with opusdec and
encodes it as mono MP3 with lame, beside the Ogg (``audio/ht/menu.start.ogg`` ->
``audio/ht/menu.start.mp3``). Debian: ``apt-get install -y opus-tools lame``.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from bot.content.pack import Content

RATE_HZ = 16_000  # phone lines carry 8 kHz; 16 kHz MP3 (MPEG-2) plays everywhere
BITRATE_KBPS = 24  # clear speech, about 3 KB a second


def played(content: Content) -> list[Path]:
    """The Ogg files of the recordings the voice line plays: those in a language it says
    in a stand-in voice."""
    return [content.audio_files[path] for (lang, _key), path in sorted(content.audio.items())
            if content.speech(lang) != lang]


def make_copies(content: Content, every: bool = False) -> list[Path]:
    """Write the MP3 copy of each recording the voice line plays that has none (of all of
    them with `every`: after recording one again); the files written."""
    written = []
    for ogg in played(content):
        target = ogg.with_suffix(".mp3")
        if every or not target.exists():
            encode(ogg, target)
            written.append(target)
    return written


def encode(ogg: Path, target: Path) -> None:
    """Decode an Ogg Opus file and write it as a mono MP3 at `target`."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "decoded.wav"
        subprocess.run(["opusdec", "--quiet", "--rate", str(RATE_HZ), str(ogg), str(wav)],
                       check=True)
        subprocess.run(["lame", "--quiet", "-m", "m", "-b", str(BITRATE_KBPS), str(wav),
                        str(target)], check=True)
