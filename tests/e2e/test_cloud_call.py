"""A whole call on the cloud providers' real SDKs, each pointed at a local server that
speaks its service's protocol, through the sandbox Asterisk: Deepgram's live API hears
the caller (μ-law 8 kHz, as the call's leg carries it), the OpenAI-protocol model
answers, ElevenLabs' streaming API speaks, the caller talks over the reply and cuts it,
and every turn reports its metrics.

Protocol facts: those of :mod:`voxtra.testing.services.deepgram`,
:mod:`voxtra.testing.services.openai` and :mod:`voxtra.testing.services.elevenlabs`, and of
``test_voice.py`` for SIPp and Asterisk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession
from voxtra.sandbox.audio import audible_spans, speech_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.services.deepgram import FakeDeepgram
from voxtra.testing.services.elevenlabs import FakeElevenLabs
from voxtra.testing.services.openai import FakeOpenAI
from voxtra.voice.events import SpeechResult, TurnMetrics
from voxtra.voice.providers.deepgram import DeepgramSTT
from voxtra.voice.providers.elevenlabs import ElevenLabsTTS
from voxtra.voice.providers.openai import OpenAILLM
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.silero import SileroVAD

LONG_REPLY = ("On Saturdays the store opens at nine in the morning and closes at six in "
              "the evening, and on Sundays it opens at ten and closes at four. On public "
              "holidays it stays closed all day, and the car park closes an hour early.")


async def test_a_call_on_cloud_providers_with_barge_in(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, piper: PiperTTS,
        tmp_path: Path) -> None:
    wav = await speech_wav(tmp_path / "caller.wav", piper, 1.5,
                           "What time does the store open on Saturday?", 2.0,
                           "Where can I park my car?", 5.0)
    seen: dict[str, Any] = {"metrics": []}
    async with FakeDeepgram(transcripts=["What time does the store open on Saturday?",
                                         "Where can I park my car?"],
                            seconds_per_word=0.1) as deepgram_server, \
            FakeOpenAI([LONG_REPLY, "Behind the store."]) as openai_server, \
            FakeElevenLabs() as voice_server:
        stt = DeepgramSTT(api_key=deepgram_server.api_key, base_url=deepgram_server.url,
                          encoding="mulaw", sample_rate=8000)
        app = VoxtraApp(
            voxtra_settings, stt=stt, vad=SileroVAD(),
            llm=OpenAILLM("fake-model", api_key="test-key", base_url=openai_server.url),
            tts=ElevenLabsTTS(api_key=voice_server.api_key, base_url=voice_server.url,
                              output_format="pcm_16000"))

        @app.route()
        async def support(call: CallSession) -> None:
            call.on("metrics", seen["metrics"].append)
            await call.answer()
            question = await call.listen(timeout=15)
            assert question is not None
            seen["question"] = question.text
            seen["cut"] = await call.say(call.agent.reply(question.text))
            follow_up = await call.listen(timeout=10)
            assert follow_up is not None
            seen["follow_up"] = follow_up.text
            seen["second"] = await call.say(call.agent.reply(follow_up.text))
            seen["history"] = [(m.role, m.content) for m in call.agent.history]
            await call.hangup()

        async with app:
            result = await sip_caller.call(CallerScript(
                "820", audio=wav, capture_audio=True, wait_for_bye=40))
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    cut: SpeechResult = seen["cut"]
    assert cut.interrupted and 0 < len(cut.heard_text) < len(LONG_REPLY)
    assert seen["question"] == "What time does the store open on Saturday?"
    assert seen["follow_up"] == "Where can I park my car?"
    second: SpeechResult = seen["second"]
    assert not second.interrupted and second.heard_text == "Behind the store."
    history = seen["history"]
    assert history[1] == ("assistant", cut.heard_text)  # only what the caller heard
    assert history[3] == ("assistant", "Behind the store.")
    # The model saw the cut reply as it was heard, before the follow-up question.
    assert openai_server.requests[1]["messages"][-2]["content"] == cut.heard_text
    spoken = [r.text for r in voice_server.requests if r.text]
    assert spoken[-1] == "Behind the store."
    metrics: list[TurnMetrics] = seen["metrics"]
    assert len(metrics) == 2, metrics
    assert all(m.voice_to_voice is not None and m.llm_first_token is not None
               and m.tts_first_audio is not None for m in metrics)
    assert metrics[0].barge_in_to_silence is not None
    # The recogniser got the call's μ-law as it came, one stream per turn.
    assert all(c.query["encoding"] == "mulaw" and c.query["sample_rate"] == "8000"
               for c in deepgram_server.connections)
    assert 1.0 < deepgram_server.connections[0].seconds < 5.0  # the question, a byte a sample
    replies = audible_spans(result.captured, received=True)
    assert len(replies) == 2  # the cut reply, then the answer to the follow-up
