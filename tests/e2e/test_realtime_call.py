"""A whole call held by a speech-to-speech model through the sandbox Asterisk: the
``openai`` SDK's realtime client talks to a local server speaking the Realtime event
protocol, the ready-made agent handler greets the caller, the model answers a
question, the caller talks over the next reply and cuts it, and the model is told how
much of it was heard.

Protocol facts: those of :mod:`voxtra.testing.services.openai_realtime` (server VAD on
the μ-law it is sent, replies as base64 ``audio/pcmu`` deltas, ``conversation.item.truncate``
checked against the audio sent), and of ``test_voice.py`` for SIPp and Asterisk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession
from voxtra.handlers import agent
from voxtra.sandbox.audio import audible_spans, decoded, rms, speech_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.services.openai_realtime import FakeRealtime
from voxtra.voice.events import SpeechResult, TurnMetrics
from voxtra.voice.providers.openai_realtime import OpenAIRealtime
from voxtra.voice.providers.piper import PiperTTS

GREETING = "Hello, how can I help?"
LONG_REPLY = ("On Saturdays the store opens at nine in the morning and closes at six in "
              "the evening, and on Sundays it opens at ten and closes at four. On public "
              "holidays it stays closed all day.")
QUESTION = "What time does the store open on Saturday?"
FOLLOW_UP = "Where can I park my car?"


async def test_a_call_held_by_a_speech_to_speech_model_with_barge_in(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, piper: PiperTTS,
        tmp_path: Path) -> None:
    wav = await speech_wav(tmp_path / "caller.wav", piper, 2.0, QUESTION, 2.0, FOLLOW_UP, 4.0)
    seen: dict[str, Any] = {"metrics": [], "transcripts": [], "replies": [], "errors": []}

    async def watch(call: CallSession) -> None:
        seen["call"] = call
        call.on("metrics", seen["metrics"].append)
        call.on("transcript", seen["transcripts"].append)
        call.on("response_ended", lambda e: seen["replies"].append(e.result))
        call.on("response_started", lambda e: seen.setdefault(
            "pacer", call.media.endpoint.pacer.stats if call.media else None))
        call.on("error", seen["errors"].append)

    async with FakeRealtime(replies=[GREETING, LONG_REPLY, "Behind the store."],
                            transcripts=[QUESTION, FOLLOW_UP]) as server:
        model = OpenAIRealtime(api_key="test-key", base_url=server.url,
                               silence_duration_ms=900, voice="marin")
        app = VoxtraApp(voxtra_settings, realtime=model)
        app.route()(agent(greeting="Greet the caller.", setup=watch))
        async with app:
            result = await sip_caller.call(CallerScript(
                "830", audio=wav, capture_audio=True, hangup_after=14))
    assert result.succeeded, result.stderr
    assert seen["errors"] == []
    # The call's μ-law went to the model as μ-law, and came back as μ-law.
    audio = server.session["audio"]
    assert audio["input"]["format"]["type"] == audio["output"]["format"]["type"] == "audio/pcmu"
    assert audio["input"]["turn_detection"]["silence_duration_ms"] == 900
    assert audio["output"]["voice"] == "marin"
    assert server.appended_seconds > 10  # the caller's audio all along
    assert [t.text for t in seen["transcripts"]] == [QUESTION, FOLLOW_UP], server.speech_events

    greeting, cut, answer = seen["replies"]
    assert greeting == SpeechResult(GREETING, GREETING, False, greeting.played_seconds)
    assert cut.interrupted and 0 < len(cut.heard_text) < len(LONG_REPLY)
    assert answer.heard_text == "Behind the store." and not answer.interrupted
    # The model was told how far the cut reply's playback got: the audio sent, and any
    # frames dropped as too late on a busy moment (playback went on past them).
    [truncation] = server.truncations
    sent_ms, late_ms = round(cut.played_seconds * 1000), seen["pacer"].late * 20
    assert sent_ms <= truncation["audio_end_ms"] <= sent_ms + late_ms, (truncation, late_ms)
    # What the caller heard: the greeting, the start of the long reply, the answer.
    spans = audible_spans(result.captured, received=True)
    assert len(spans) == 3, spans
    # Of the cut reply, the caller heard the frames the app sent (what the model was told
    # was played), counted: capture times stretch and shrink with the machine's load.
    # A frame of slack where the cut falls.
    heard_of_cut = sum(1 for time, pcm in decoded(result.captured, received=True)
                       if spans[1][0] <= time < spans[1][1] and rms(pcm) > 300)
    assert abs(heard_of_cut - round(cut.played_seconds / 0.02)) <= 1, \
        (heard_of_cut, cut.played_seconds)
    # The caller talking over the reply cut it: it stopped once their follow-up had
    # begun, and before they had finished it (not at its own end, 5.7 s on).
    follow_up = audible_spans(result.captured, received=False, gap=0.5)[-1]
    assert follow_up[0] <= spans[1][1] <= follow_up[1], (spans, follow_up)
    call: CallSession = seen["call"]
    assert call.conversation is not None
    assert [(m.role, m.content) for m in call.conversation.history] == [
        ("assistant", GREETING), ("user", QUESTION), ("assistant", cut.heard_text),
        ("user", FOLLOW_UP), ("assistant", "Behind the store.")]
    metrics: list[TurnMetrics] = seen["metrics"]
    assert len(metrics) == 3
    assert all(m.voice_to_voice is not None and m.llm_first_token is not None
               for m in metrics[1:])  # each of the caller's turns
    assert metrics[1].barge_in_to_silence is not None


async def test_a_lost_model_ends_the_call_cleanly_with_asterisks_prompt(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller) -> None:
    async with FakeRealtime(replies=[LONG_REPLY]) as server:
        server.drop_after_deltas = 3
        app = VoxtraApp(voxtra_settings,
                        realtime=OpenAIRealtime(api_key="test-key", base_url=server.url))
        app.route()(agent(greeting="Greet the caller."))
        async with app:
            result = await sip_caller.call(CallerScript("831", capture_audio=True,
                                                        wait_for_bye=15))
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert server.responses[0]["status"] == "in_progress"  # cut off mid-reply
    # The start of the greeting (3 deltas of 100 ms), then Asterisk's apology
    # (sound:please-try-call-later, 1.8 s), and the app hung up.
    # Counted in frames: capture times stretch and shrink with the machine's load.
    heard = 0.02 * sum(1 for _, pcm in decoded(result.captured, received=True)
                       if rms(pcm) > 300)
    assert 1.5 < heard < 3.0, heard
