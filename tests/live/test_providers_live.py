"""One real exchange with each cloud service, on telephone-band audio where the service
hears the caller. Run with ``VOXTRA_LIVE=1`` and the keys (see ``conftest.py``)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from voxtra.media.audio import AudioChunk
from voxtra.sandbox.telephone import at_level, telephone_band
from voxtra.voice.llm import ChatMessage
from voxtra.voice.providers.deepgram import DeepgramSTT
from voxtra.voice.providers.elevenlabs import ElevenLabsTTS
from voxtra.voice.providers.openai import OpenAILLM
from voxtra.voice.providers.openai_realtime import OpenAIRealtime
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.whisper import WhisperSTT
from voxtra.voice.realtime import CallerTranscript, RealtimeOptions, ReplyAudio, ReplyDone

QUESTION = "What time does the store open on Saturday?"


def key(name: str) -> str:
    """The key in ``name``, or a failure that says which variable to set."""
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"VOXTRA_LIVE=1 needs {name} in the environment")
    return value


async def phone_line(piper: PiperTTS, text: str) -> np.ndarray:
    """``text`` as a PSTN caller sends it: 8 kHz, 300-3400 Hz, about -19 dBFS."""
    pcm = np.concatenate([piece async for piece in piper.synthesize(text)])
    return at_level(telephone_band(pcm, piper.sample_rate), -19.0)


async def test_deepgram_hears_a_telephone_caller(piper: PiperTTS) -> None:
    stt = DeepgramSTT(api_key=key("DEEPGRAM_API_KEY"), encoding="mulaw", sample_rate=8000,
                      model="nova-2-phonecall")
    stt.load()
    await stt.check()
    stream = stt.stream()
    audio = await phone_line(piper, QUESTION)
    for start in range(0, len(audio), 160):
        stream.push(audio[start:start + 160])
    heard = await stream.final()
    await stream.aclose()
    assert "saturday" in heard.text.lower(), heard


async def test_openai_answers_a_question() -> None:
    llm = OpenAILLM(api_key=key("OPENAI_API_KEY"))
    llm.load()
    reply = "".join([delta.text async for delta in llm.stream([
        ChatMessage("system", "Answer with one word."),
        ChatMessage("user", "What colour is a clear sky at noon?")])])
    assert "blue" in reply.lower(), reply


async def test_elevenlabs_speaks_words_a_recogniser_hears(whisper: WhisperSTT) -> None:
    tts = ElevenLabsTTS(api_key=key("ELEVENLABS_API_KEY"), output_format="pcm_16000")
    await tts.check()
    pcm = np.concatenate([piece async for piece in tts.synthesize("The store opens at nine.")])
    assert 0.8 < len(pcm) / tts.sample_rate < 6.0
    assert tts.sample_rate == whisper.sample_rate
    heard = await whisper.transcribe(pcm)
    assert "nine" in heard.text.lower() or "9" in heard.text, heard


async def test_the_realtime_model_answers_a_telephone_caller(piper: PiperTTS) -> None:
    model = OpenAIRealtime(api_key=key("OPENAI_API_KEY"))
    model.load()
    await model.check()
    session = await model.connect(RealtimeOptions(instructions="Answer in one short sentence."))
    audio = await phone_line(piper, QUESTION)
    silence = np.zeros(8000 * 2, np.int16)  # for the server's turn detection
    for start in range(0, len(audio) + len(silence), 160):
        piece = np.concatenate([audio, silence])[start:start + 160]
        await session.send_audio(AudioChunk(piece, 8000, start / 8000))
    transcript, reply, done = "", 0, None
    async for event in session.events():
        if isinstance(event, CallerTranscript):
            transcript += event.text
        elif isinstance(event, ReplyAudio):
            reply += len(event.pcm)
        elif isinstance(event, ReplyDone):
            done = event
            break
    await session.aclose()
    assert done is not None and done.status == "completed"
    assert reply > 8000 * 0.5, "less than half a second of reply audio"
    assert "saturday" in transcript.lower(), transcript  # the input transcription heard it
