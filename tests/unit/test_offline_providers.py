"""The offline providers on real models: Piper speaks, Whisper hears it, Silero spots it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from voxtra.errors import ProviderError
from voxtra.media.g711 import Pcm
from voxtra.media.resample import resample
from voxtra.voice.providers.espeak import EspeakTTS, parse_wav
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.silero import SileroVAD
from voxtra.voice.providers.whisper import WhisperSTT, repeats

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCE = "What time does the store open on Saturday?"


@pytest.fixture(scope="module")
async def spoken(piper: PiperTTS) -> Pcm:
    """The test sentence in Piper's voice, at 16 kHz."""
    chunks = [chunk async for chunk in piper.synthesize(SENTENCE)]
    assert chunks and all(chunk.dtype == np.int16 for chunk in chunks)
    return resample(np.concatenate(chunks), piper.sample_rate, 16000)


async def test_whisper_transcribes_piper(whisper: WhisperSTT, spoken: Pcm) -> None:
    transcript = await whisper.transcribe(spoken)
    assert "store" in transcript.text.lower()
    assert "saturday" in transcript.text.lower()
    assert 0.0 < transcript.confidence <= 1.0
    assert transcript.language == "en"


async def test_whisper_empty_audio(whisper: WhisperSTT) -> None:
    assert (await whisper.transcribe(np.zeros(0, np.int16))).text == ""


async def test_whisper_missing_model(tmp_path: Path) -> None:
    stt = WhisperSTT(tmp_path / "no-such-model")
    with pytest.raises(ProviderError) as caught:
        await stt.transcribe(np.zeros(16000, np.int16))
    assert caught.value.retryable is False


async def test_piper_stops_when_the_listener_does(piper: PiperTTS) -> None:
    assert piper.sample_rate == 22050
    stream = piper.synthesize("One sentence. Another sentence. And a third one.")
    first = await anext(stream)
    await stream.aclose()
    assert len(first) > piper.sample_rate // 4


def test_silero_tells_speech_from_silence(spoken: Pcm) -> None:
    vad = SileroVAD()
    speech, silence = vad.stream(), vad.stream()
    chunks = range(0, len(spoken), 320)
    assert max(speech.process(spoken[i:i + 320]) for i in chunks) > 0.8
    quiet = np.zeros(320, np.int16)
    assert max(silence.process(quiet) for _ in range(50)) < 0.2


async def test_espeak_speaks() -> None:
    tts = EspeakTTS()
    chunks = [chunk async for chunk in tts.synthesize("-v Hello, how can I help you?")]
    audio = np.concatenate(chunks).astype(np.float64)
    frame = tts.sample_rate // 50  # 20 ms
    frames = audio[:len(audio) // frame * frame].reshape(-1, frame)
    voiced = np.sqrt(np.mean(frames**2, axis=1)) > 300
    assert voiced.sum() * 0.02 > 0.5


async def test_espeak_missing_binary() -> None:
    tts = EspeakTTS(binary="no-such-espeak-ng")
    with pytest.raises(ProviderError) as caught:
        _ = [chunk async for chunk in tts.synthesize("hello")]
    assert caught.value.retryable is False
    assert "apt-get install espeak-ng" in str(caught.value)


def test_parse_wav_rejects_other_data() -> None:
    with pytest.raises(ProviderError):
        parse_wav(b"not a wav file at all")


@pytest.mark.parametrize(("text", "looping"), [
    ("Where can I park my car? Where can I park my car? Where can I", True),
    ("I would like to book a table.", False), ("no no", False), ("", False),
])
def test_a_decoder_loop_is_recognised(text: str, looping: bool) -> None:
    assert repeats(text) is looping
