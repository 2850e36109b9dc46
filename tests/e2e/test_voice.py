"""AI conversations end to end: SIPp speaks recorded questions (made with Piper) into the
sandbox Asterisk, the app hears them through ExternalMedia RTP with Silero VAD and
Whisper, a scripted agent answers, Piper speaks the reply back, and what the caller
heard is captured and transcribed with Whisper again.

Protocol facts relied on: SIPp streams the WAV's μ-law frames as RTP from the ACK
on; Asterisk's mixing bridge carries them to the ExternalMedia leg and our RTP back
to the caller; the capture sees both directions of the caller's media port.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voxtra.app import VoxtraApp
from voxtra.media.resample import resample
from voxtra.session import CallSession
from voxtra.settings import VoxtraSettings
from voxtra.testing.audio import audible_spans
from voxtra.testing.sipp import CallerScript, SipCaller, SippResult
from voxtra.testing.voice import speech_wav
from voxtra.voice.events import SpeechResult, UserTranscriptEvent
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.scripted import ScriptedLLM
from voxtra.voice.providers.silero import SileroVAD
from voxtra.voice.providers.whisper import WhisperSTT

QUESTION = "What time does the store open on Saturday?"
ANSWER = "We open at nine in the morning on Saturdays."
LONG_ANSWER = ("On Saturdays the store opens at nine in the morning and closes at six in "
               "the evening. On Sundays we open at ten and close at four. On public "
               "holidays the store stays closed all day, and the car park closes early.")
LEAD = 1.5  # seconds of silence before the caller speaks (the media leg comes up)


@pytest.fixture
def scripted() -> Iterator[ScriptedLLM]:
    yield ScriptedLLM({r"parking|car": "The car park is behind the store.",
                       r"open": ANSWER, r"table": "A table for two, certainly."})


NUMBERS = dict(enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven",
                          "eight", "nine", "ten"]))


def words(text: str) -> list[str]:
    """Words to compare what was said with what was heard: digits spelled out,
    contractions and plurals cut ("We'd" ~ "we", "Saturdays" ~ "saturday")."""
    found = re.findall(r"[a-z]+|\d+", re.sub(r"'[a-z]+", "", text.lower()))
    spelled = [NUMBERS.get(int(w), w) if w.isdigit() else w for w in found]
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in spelled]


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, words(a), words(b)).ratio()


async def heard_text(result: SippResult, whisper: WhisperSTT) -> str:
    heard = result.heard()
    assert len(heard), "the caller heard nothing"
    return (await whisper.transcribe(resample(heard, 8000, 16000))).text


async def test_a_spoken_question_gets_a_spoken_answer(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, whisper: WhisperSTT,
        piper: PiperTTS, scripted: ScriptedLLM, tmp_path: Path) -> None:
    wav = await speech_wav(tmp_path / "question.wav", piper, LEAD, QUESTION, 4.0)
    app = VoxtraApp(voxtra_settings, stt=whisper, llm=scripted, tts=piper, vad=SileroVAD())
    seen: dict[str, Any] = {}

    @app.route()
    async def support(call: CallSession) -> None:
        await call.answer()
        heard = await call.listen(timeout=15)
        seen["heard"] = heard
        assert heard is not None
        reply = await call.agent.respond(heard.text)
        seen["reply"] = reply.text
        seen["said"] = await call.say(reply.text)
        seen["history"] = [(m.role, m.content) for m in call.agent.history]
        await call.hangup()

    async with app:
        result = await sip_caller.call(CallerScript("800", audio=wav, capture_audio=True,
                                                    wait_for_bye=30))
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    heard: UserTranscriptEvent = seen["heard"]
    assert similarity(heard.text, QUESTION) >= 0.85, heard.text
    assert seen["reply"] == ANSWER
    said: SpeechResult = seen["said"]
    assert not said.interrupted and said.heard_text == ANSWER
    assert seen["history"] == [("user", heard.text), ("assistant", ANSWER)]
    spoken_back = await heard_text(result, whisper)
    assert similarity(spoken_back, ANSWER) >= 0.8, spoken_back


async def test_talking_over_the_reply_cuts_it(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, whisper: WhisperSTT,
        piper: PiperTTS, scripted: ScriptedLLM, tmp_path: Path) -> None:
    interruption = "Where can I park my car?"
    wav = await speech_wav(tmp_path / "barge.wav", piper, LEAD, QUESTION, 3.0, interruption,
                           5.0)
    app = VoxtraApp(voxtra_settings, stt=whisper, tts=piper, vad=SileroVAD(),
                    llm=ScriptedLLM({r"park": "The car park is behind the store.",
                                     r"open": LONG_ANSWER}))
    seen: dict[str, Any] = {"events": []}

    @app.route()
    async def support(call: CallSession) -> None:
        call.on("interrupted", seen["events"].append)
        await call.answer()
        question = await call.listen(timeout=15)
        assert question is not None
        reply = await call.agent.respond(question.text)
        seen["said"] = await call.say(reply.text)
        seen["next"] = await call.listen(timeout=10)
        seen["history"] = [(m.role, m.content) for m in call.agent.history]
        await call.hangup()

    async with app:
        result = await sip_caller.call(CallerScript("801", audio=wav, capture_audio=True,
                                                    wait_for_bye=40))
    assert result.succeeded, result.stderr
    said: SpeechResult = seen["said"]
    assert said.interrupted and said.text == LONG_ANSWER
    assert 0 < len(said.heard_text) < len(LONG_ANSWER) / 2
    assert LONG_ANSWER.startswith(said.heard_text.rstrip("."))
    assert seen["history"][1] == ("assistant", said.heard_text)
    assert seen["next"] is not None and similarity(seen["next"].text, interruption) >= 0.6
    [event] = seen["events"]
    assert event.to_silence <= 0.021  # our side: the pacer had one frame on its way
    # The caller's side, from the capture: the reply stops soon after they start talking.
    spoken = audible_spans(result.captured, received=False)
    [reply] = audible_spans(result.captured, received=True)
    onset = next(start for start, _ in spoken if start > reply[0])
    to_silence = reply[1] - onset
    print(f"barge-in: caller onset -> reply silent at the caller {to_silence * 1000:.0f} ms")
    assert 0 < to_silence < 1.5


async def test_a_pause_mid_sentence_is_one_turn_and_uh_huh_does_not_interrupt(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, whisper: WhisperSTT,
        piper: PiperTTS, scripted: ScriptedLLM, tmp_path: Path) -> None:
    wav = await speech_wav(tmp_path / "pause.wav", piper, LEAD, "I would like to", 0.6,
                           "book a table for two people.", 3.0, "Uh huh", 6.0)
    app = VoxtraApp(voxtra_settings, stt=whisper, llm=scripted, tts=piper, vad=SileroVAD())
    seen: dict[str, Any] = {"finals": [], "interrupted": []}

    @app.route()
    async def booking(call: CallSession) -> None:
        call.on("transcript", lambda e: seen["finals"].append(e))
        call.on("interrupted", seen["interrupted"].append)
        await call.answer()
        seen["turn"] = await call.listen(timeout=15)
        seen["said"] = await call.say(LONG_ANSWER)
        seen["after"] = await call.listen(timeout=1)
        await call.hangup()

    async with app:
        result = await sip_caller.call(CallerScript("802", audio=wav, wait_for_bye=40))
    assert result.succeeded, result.stderr
    turn: UserTranscriptEvent = seen["turn"]
    assert turn is not None and "like to" in turn.text.lower() and "table" in turn.text.lower()
    said: SpeechResult = seen["said"]
    heard = [(e.text, e.final, e.backchannel, round(e.ended_at - e.started_at, 2))
             for e in seen["finals"]]
    assert not said.interrupted and not seen["interrupted"], heard
    assert seen["after"] is None, heard  # the uh-huh was not a turn
    finals = [e for e in seen["finals"] if e.final]
    assert all(e.backchannel for e in finals[1:]), heard


@pytest.fixture(autouse=True)
def _quiet_numpy() -> Iterator[None]:
    with np.errstate(all="ignore"):
        yield
