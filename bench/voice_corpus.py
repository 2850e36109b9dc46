"""A labelled corpus of what telephone callers send, for turn-taking and barge-in tests.

    .venv/bin/python bench/voice_corpus.py [--out DIR] [--limit N]

Each item is a caller's whole side of a call, made with :mod:`voxtra.sandbox.telephone`:
1.5 s of silence (the media leg comes up), then

- question: a request with one or two pauses of 0.3-1 s where the sentence is clearly
  unfinished ("My account number is ... four five six ... and I cannot log in."), said
  as one sentence and cut at the pauses (:func:`~voxtra.sandbox.voices.synthesize_paused`),
  so the words before a pause do not end on a sentence's final fall;
- plain: a complete question without pauses; short: a short answer or digit string;
  each followed by 4 s of silence;
- backchannel ("uh huh"), bargein ("Wait, stop, that's wrong."), noise (coughs, a door
  slam, rustling): said 2.5 s later, over the reply the app is playing by then, and
  followed by 5 s of silence.

Voices (Piper's joe voice, pitch- and tempo-shifted copies of it, and Flite's; see
:data:`~voxtra.sandbox.voices.VOICES`), levels (-30 to -12 dBFS) and background noise
(every third item: babble, pink or street noise at 10-20 dB SNR) are spread over the
items in a fixed order; every random choice has a fixed seed, so a build is the same
everywhere. Each item is made twice: narrowband (300-3400 Hz, 8 kHz, a μ-law WAV that
SIPp's ``rtp_stream`` streams as PCMU) and wideband (50-7000 Hz, 16 kHz, raw G.722 that
it streams as payload type 9: ``rtp_stream="FILE,1,9"``, 160 bytes per 20 ms, with an
SDP offering ``G722/8000``). SIPp 3.6.1 streams a file whole, header included: a WAV's
58-byte header goes out as 7.25 ms of μ-law noise before the audio, so the file's second
t is at t + 0.00725 s of the stream; the raw G.722 files have no header.

The corpus goes to ``DIR`` (by default ``~/.cache/voxtra/voice-corpus/<hash of this
definition>``) with a ``manifest.json``: a list of entries, one per item and channel,
with where its speech is in the file, measured from the rendered audio. A build makes
only the files that are missing.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from voxtra.media.audio import Pcm
from voxtra.sandbox.audio import write_ulaw_wav
from voxtra.sandbox.sound import write_g722
from voxtra.sandbox.telephone import NoiseKind, Part, Sound, caller_audio
from voxtra.sandbox.voices import DEFAULT_CACHE, VOICES, Voice

#: Silence before anything, while the call's media leg comes up.
LEAD = 1.5
#: Overlap kinds start this long after the lead (the app's reply is playing then).
OVER_REPLY = 2.5
#: Silence after a turn kind's utterance, and after an overlap kind's sound.
AFTER_TURN = 4.0
AFTER_OVERLAP = 5.0
TURN_KINDS = ("question", "plain", "short")
OVERLAP_KINDS = ("backchannel", "bargein", "noise")
LEVELS = (-30.0, -27.0, -24.0, -21.0, -18.0, -15.0, -12.0)
NOISES: tuple[NoiseKind, ...] = ("babble", "pink", "street")
SNRS = (15.0, 20.0, 10.0)
#: Bumped when the way items are made changes, to give the corpus a new directory.
VERSION = 3
CORPORA = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voxtra" / \
    "voice-corpus"

Channel = Literal["narrowband", "wideband"]
CHANNELS: tuple[Channel, ...] = ("narrowband", "wideband")


QUESTIONS: tuple[tuple[Part, ...], ...] = (
    ("I would like to book a table for", 0.6, "four people on Friday."),
    ("My account number is", 0.7, "four five six", 0.5, "and I cannot log in."),
    ("Can you tell me", 0.5, "what time the pharmacy closes?"),
    ("I need to change my", 0.8, "delivery address."),
    ("The order number is", 0.6, "seven seven two", 0.4, "nine one."),
    ("Could you check whether", 0.5, "my prescription is ready?"),
    ("I was calling about", 0.9, "the bill I got last week."),
    ("Is it possible to", 0.3, "move my appointment to Tuesday?"),
    ("My name is", 0.6, "John Carter, and I have a question about my order."),
    ("I would like to speak with", 0.7, "someone in billing."),
    ("We are flying to", 0.5, "Chicago on the", 0.4, "twelfth of March."),
    ("Do you have", 0.6, "any rooms available this weekend?"),
    ("The problem is that", 1.0, "my internet keeps dropping."),
    ("Can I pay with", 0.4, "a credit card?"),
    ("I want to cancel", 0.7, "my subscription."),
    ("My date of birth is", 0.6, "the third of June", 0.5, "nineteen eighty two."),
    ("How much does it cost to", 0.6, "ship a package to Canada?"),
    ("I am looking for", 0.8, "the nearest branch."),
    ("Please send me", 0.3, "a copy of my last invoice."),
    ("The card ends in", 0.7, "three three", 0.5, "eight one."),
    ("Could I get a", 0.5, "large pizza with", 0.6, "mushrooms and olives?"),
    ("I think there is", 0.6, "a mistake on my statement."),
    ("What I need is", 0.9, "a taxi to the airport at six."),
    ("When does the", 0.4, "next train to Boston leave?"),
)
PLAIN = (
    "What are your opening hours on Saturday?",
    "Can I book an appointment for tomorrow morning?",
    "Where is my order?",
    "Do you deliver to my area?",
    "How do I reset my password?",
    "Is the store open on public holidays?",
    "Can you transfer me to customer service?",
    "What is the balance on my account?",
)
SHORT = (
    "Yes.", "No.", "Yeah, that's right.", "One two three four.",
    "Five five five, zero one nine nine.", "Correct.", "No, thank you.", "Tuesday.",
    "Seven.", "Okay, sure.",
)
#: "Hmm" stands for "mm-hmm", which the voices spell out letter by letter.
BACKCHANNELS = (
    "Uh huh.", "Yeah.", "Okay.", "Hmm.", "Right.", "Yeah, yeah.", "Okay, sure.", "I see.",
)
BARGEINS = (
    "Wait, stop, that's wrong.", "No no, I need the other store.",
    "Sorry, can I speak to a person?", "Hold on, that's not what I asked.", "Stop, stop.",
    "Actually, I want to cancel.", "Excuse me, wrong department.", "No, the other one.",
)
NOISE_SCRIPTS: tuple[tuple[Part, ...], ...] = (
    (Sound("cough"),),
    (Sound("cough"), 0.4, Sound("cough")),
    (Sound("door"),),
    (Sound("rustle"),),
    (Sound("cough"), 0.8, Sound("door")),
    (Sound("rustle"), 0.3, Sound("cough")),
)


@dataclass(frozen=True)
class Item:
    """One caller: a script said by ``voice`` (None for sounds alone) at ``level`` dBFS,
    over ``noise`` at ``snr`` dB if any; ``seed`` fixes its sounds and noise."""

    id: str
    kind: str
    voice: Voice | None
    script: tuple[Part, ...]
    level: float
    noise: NoiseKind | None
    snr: float | None
    seed: int

    @property
    def text(self) -> str:
        return " ".join(part for part in self.script if isinstance(part, str))


def items() -> list[Item]:
    """The corpus: each kind's scripts, with voices taken in turn (each kind starting at
    another), and levels and noise in turn over all items."""
    scripts: dict[str, list[tuple[Part, ...]]] = {
        "question": list(QUESTIONS), "plain": [(s,) for s in PLAIN],
        "short": [(s,) for s in SHORT], "backchannel": [(s,) for s in BACKCHANNELS],
        "bargein": [(s,) for s in BARGEINS], "noise": list(NOISE_SCRIPTS)}
    made = []
    counter = itertools.count()
    for offset, (kind, of_kind) in enumerate(scripts.items()):
        for index, script in enumerate(of_kind):
            number = next(counter)
            noisy = number % 3 == 1  # every kind of noise at every SNR, in turn
            noise, snr = NOISES[number // 9 % len(NOISES)], SNRS[number // 3 % len(SNRS)]
            made.append(Item(
                f"{kind}-{index + 1:02d}", kind,
                None if kind == "noise" else VOICES[(index + offset) % len(VOICES)],
                script, LEVELS[number % len(LEVELS)], noise if noisy else None,
                snr if noisy else None, 1000 + number))
    return made


def spread(chosen: list[Item], limit: int | None) -> list[Item]:
    """The first ``limit`` items taken a kind at a time, so a few cover every kind."""
    if limit is None:
        return chosen
    by_kind: dict[str, list[Item]] = {}
    for item in chosen:
        by_kind.setdefault(item.kind, []).append(item)
    rounds = itertools.zip_longest(*by_kind.values())
    return [item for row in rounds for item in row if item is not None][:limit]


def definition_hash(chosen: Iterable[Item]) -> str:
    """A short hash of what the corpus is made of (its directory's name)."""
    text = repr((VERSION, LEAD, OVER_REPLY, AFTER_TURN, AFTER_OVERLAP, list(chosen)))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def file_name(item: Item, channel: Channel) -> str:
    """Where ``item``'s file for ``channel`` goes, relative to the manifest."""
    return f"{channel}/{item.id}.{'wav' if channel == 'narrowband' else 'g722'}"


def render(item: Item, channel: Channel, cache: Path | None) -> tuple[Pcm, dict[str, Any]]:
    """The caller's audio for ``item`` on ``channel``, and its manifest entry."""
    rate = 8000 if channel == "narrowband" else 16000
    overlap = item.kind in OVERLAP_KINDS
    audio, spans = caller_audio(
        item.script, item.voice, rate=rate, lead=LEAD + (OVER_REPLY if overlap else 0.0),
        after=AFTER_OVERLAP if overlap else AFTER_TURN, level=item.level, noise=item.noise,
        snr=item.snr or 0.0, seed=item.seed, cache=cache)
    speech = [span for span in spans if span.kind == "speech"]
    entry = {
        "id": item.id, "kind": item.kind, "channel": channel,
        "voice": item.voice.name if item.voice else "", "text": item.text,
        "level_dbfs": item.level, "snr_db": item.snr, "file": file_name(item, channel),
        "rate": rate, "codec": "ulaw" if channel == "narrowband" else "g722",
        "speech": [[span.start, span.end] for span in speech],
        "onset": spans[0].start, "end": spans[-1].end,
        "pauses": [round(b.start - a.end, 3) for a, b in itertools.pairwise(speech)],
    }
    return audio, entry


def build(out: Path, limit: int | None = None, channels: Iterable[Channel] = CHANNELS,
          cache: Path | None = DEFAULT_CACHE) -> list[dict[str, Any]]:
    """Make the corpus's missing files in ``out`` and write its ``manifest.json``;
    returns the manifest's entries."""
    manifest = out / "manifest.json"
    known = {(e["id"], e["channel"]): e for e in json.loads(manifest.read_text())} \
        if manifest.exists() else {}
    entries = []
    for item in spread(items(), limit):
        for channel in channels:
            path = out / file_name(item, channel)
            entry = known.get((item.id, channel))
            if entry is None or not path.exists():
                audio, entry = render(item, channel, cache)
                path.parent.mkdir(parents=True, exist_ok=True)
                if channel == "narrowband":
                    write_ulaw_wav(path, audio)
                else:
                    write_g722(path, audio)
            entries.append(entry)
    partial = manifest.with_suffix(".tmp")
    partial.write_text(json.dumps(entries, indent=1))
    partial.replace(manifest)
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="the corpus directory")
    parser.add_argument("--limit", type=int, help="only this many items, a kind at a time")
    args = parser.parse_args()
    out = args.out or CORPORA / definition_hash(spread(items(), args.limit))
    started = time.monotonic()
    entries = build(out, args.limit)
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    print(json.dumps({"manifest": str(out / "manifest.json"), "entries": len(entries),
                      "seconds": round(time.monotonic() - started, 1),
                      "megabytes": round(size / 1e6, 1)}))


if __name__ == "__main__":
    main()
