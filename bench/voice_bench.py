"""Voice-pipeline benchmark, one run, figures printed as JSON.

    .venv/bin/python bench/voice_bench.py [--calls 8] [--turns 200] [--concurrent 20]

1. framework: the pipeline with zero-delay fake providers on in-memory audio,
   from the end-of-turn decision to the reply's first frame sent by the pacer
   (listen → agent → sentence → TTS → pacer); beside it, in the same run, the
   bare reference of one asyncio queue hand-off, and the ratio of the two.
2. realtime: OpenAI Realtime on its SDK behind a local server answering at once:
   the model's end of turn → the reply's first frame, and the framework's part of it.
3. barge_in: the same pipeline, caller speech over Voxtra's reply: from the
   decision to interrupt until the last frame sent has played out (silence), and
   from the caller's speech onset to then (no backchannel filter: any 0.3 s of
   speech interrupts).
4. conversation: sequential calls through the sandbox Asterisk with the offline
   stack (Silero VAD, Whisper tiny.en, scripted agent, Piper); each caller speaks
   a question made with Piper; the capture at SIPp gives the end of the caller's
   speech → first reply audio at the caller, p50/p95; the app's turn metrics
   give the stages.
5. memory: RSS of the app process with N concurrent AI calls (models shared, each
   call listening through VAD and the recogniser) against the same process with
   none; reported per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr

from voxtra import CallSession
from voxtra.app import VoxtraApp
from voxtra.media.audio import AudioChunk, Pcm
from voxtra.sandbox.asterisk import AsteriskSandbox, SandboxOptions, SandboxState
from voxtra.sandbox.audio import audible_spans, speech_wav
from voxtra.sandbox.ports import free_port
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.services.deepgram import FakeDeepgram
from voxtra.testing.services.elevenlabs import FakeElevenLabs
from voxtra.testing.services.openai import FakeOpenAI
from voxtra.testing.services.openai_realtime import FakeRealtime
from voxtra.testing.voice import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryAudio
from voxtra.voice.agent import AgentClient
from voxtra.voice.conversation import RealtimeConversation
from voxtra.voice.emitter import EventEmitter
from voxtra.voice.events import TurnMetrics
from voxtra.voice.llm import LLM
from voxtra.voice.pipeline import Providers, VoicePipeline
from voxtra.voice.providers.deepgram import DeepgramSTT
from voxtra.voice.providers.elevenlabs import ElevenLabsTTS
from voxtra.voice.providers.openai import OpenAILLM
from voxtra.voice.providers.openai_realtime import OpenAIRealtime
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.scripted import ScriptedLLM
from voxtra.voice.providers.silero import SileroVAD
from voxtra.voice.providers.whisper import WhisperSTT
from voxtra.voice.realtime import RealtimeEvent, RealtimeOptions, RealtimeSession, ReplyAudio
from voxtra.voice.settings import VoiceSettings
from voxtra.voice.stt import STT, STTStream, Transcript
from voxtra.voice.tts import TTS
from voxtra.voice.turns import TurnSettings

QUESTIONS = ["What time does the store open on Saturday?", "Where can I park my car?",
             "Do you sell gift cards?", "Can I return a jacket I bought last week?"]
REPLIES = {r"open": "We open at nine in the morning on Saturdays.",
           r"park": "There is free parking behind the store.",
           r"gift": "Yes, we sell gift cards at every till.",
           r"return": "Yes, you can return it within thirty days with the receipt."}


def percentiles(values: list[float], scale: float = 1000.0) -> dict[str, float]:
    array = np.array(values) * scale
    return {"n": len(values), "p50": round(float(np.percentile(array, 50)), 2),
            "p95": round(float(np.percentile(array, 95)), 2),
            "p99": round(float(np.percentile(array, 99)), 2)}


async def queue_handoff(rounds: int) -> list[float]:
    """The reference: one put on an asyncio queue until the waiting task runs."""
    queue: asyncio.Queue[float] = asyncio.Queue()
    delays: list[float] = []

    async def consumer() -> None:
        for _ in range(rounds):
            sent = await queue.get()
            delays.append(time.monotonic() - sent)

    task = asyncio.create_task(consumer())
    for _ in range(rounds):
        await asyncio.sleep(0.001)
        queue.put_nowait(time.monotonic())
    await task
    return delays


def fake_pipeline(stt: STT, replies: list[str], turn: TurnSettings, *,
                  llm: LLM | None = None, tts: TTS | None = None,
                  ) -> tuple[VoicePipeline, MemoryAudio, AgentClient, EventEmitter]:
    audio = MemoryAudio()
    events = EventEmitter()
    agent = AgentClient(llm or FakeLLM(replies))
    pipeline = VoicePipeline(Providers(stt, tts or FakeTTS(), agent.llm, FakeVAD()), audio,
                             audio, VoiceSettings(turn=turn), events, agent)
    pipeline.start()
    return pipeline, audio, agent, events


class TimedSTT(STT):
    """Wraps a recogniser and records how long each final transcript took."""

    def __init__(self, inner: STT) -> None:
        self.inner = inner
        self.sample_rate = inner.sample_rate
        self.finals: list[float] = []

    def stream(self, hints: Sequence[str] = ()) -> STTStream:
        return _TimedStream(self, self.inner.stream(hints))


class _TimedStream(STTStream):
    def __init__(self, owner: TimedSTT, inner: STTStream) -> None:
        self.owner, self.inner = owner, inner

    def feed(self, pcm: Pcm) -> None:
        self.inner.feed(pcm)

    async def interim(self) -> Transcript:
        return await self.inner.interim()

    async def final(self) -> Transcript:
        began = time.monotonic()
        try:
            return await self.inner.final()
        finally:
            self.owner.finals.append(time.monotonic() - began)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def framework_latency(turns: int, stt: STT | None = None, llm: LLM | None = None,
                            tts: TTS | None = None) -> dict[str, Any]:
    """End of turn → first reply frame, less the providers' own time (final transcript,
    first token, first audio), per turn."""
    timed = TimedSTT(stt or FakeSTT(["Hello there."] * turns))
    turn = TurnSettings(min_endpointing_delay=0.2, max_endpointing_delay=0.2)
    pipeline, audio, agent, events = fake_pipeline(timed, ["Hi."], turn, llm=llm, tts=tts)
    decided: list[float] = []
    started: list[float] = []
    metrics: list[TurnMetrics] = []
    events.on("speech_ended", lambda e: decided.append(time.monotonic()))
    events.on("response_started", lambda e: started.append(e.at))
    events.on("metrics", metrics.append)

    async def converse() -> None:
        for _ in range(turns):
            heard = await pipeline.listen()
            assert heard is not None
            await pipeline.say(agent.reply(heard.text))

    talk = asyncio.create_task(converse())
    for _ in range(turns):
        await audio.speak(0.2)
        await audio.silence(0.6)
    await asyncio.wait_for(talk, 10)
    await pipeline.aclose()
    await audio.close()
    total = [s - d for d, s in zip(decided, started, strict=True)]
    own = [f + (m.llm_first_token or 0) + (m.tts_first_audio or 0)
           for f, m in zip(timed.finals, metrics, strict=True)]
    return {"end_of_turn_to_first_frame_ms": percentiles(total),
            "providers_own_ms": percentiles(own),
            "framework_added_ms": percentiles([t - o for t, o in zip(total, own, strict=True)])}


async def fake_providers(turns: int) -> dict[str, Any]:
    result = await framework_latency(turns)
    reference = await queue_handoff(turns)
    result["reference_queue_handoff_ms"] = percentiles(reference)
    result["ratio_p99"] = round(result["end_of_turn_to_first_frame_ms"]["p99"]
                                / max(result["reference_queue_handoff_ms"]["p99"], 0.001), 1)
    return result


async def cloud_providers(turns: int) -> dict[str, Any]:
    """Each cloud provider on its real SDK behind a zero-delay local server, the
    other stages fake."""
    results: dict[str, Any] = {}
    async with FakeDeepgram(transcripts=["Hello there."] * turns) as server:
        stt = DeepgramSTT(api_key=server.api_key, base_url=server.url)
        results["deepgram_stt"] = await framework_latency(turns, stt=stt)
    async with FakeOpenAI(["Hi there."]) as server:
        llm = OpenAILLM("fake-model", api_key="test-key", base_url=server.url)
        results["openai_llm"] = await framework_latency(turns, llm=llm)
    async with FakeElevenLabs(first_chunk_delay=0.0, chunk_delay=0.0) as server:
        tts = ElevenLabsTTS(api_key=server.api_key, base_url=server.url)
        tts.load()
        results["elevenlabs_tts"] = await framework_latency(turns, tts=tts)
    return results


class _TimedSession(RealtimeSession):
    """A realtime session that notes when each reply's first audio reached Voxtra."""

    def __init__(self, inner: RealtimeSession, arrivals: list[float]) -> None:
        self.inner = inner
        self.arrivals = arrivals
        self._seen: set[str] = set()

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        async for event in self.inner.events():
            if isinstance(event, ReplyAudio) and event.item_id not in self._seen:
                self._seen.add(event.item_id)
                self.arrivals.append(time.monotonic())
            yield event

    async def send_audio(self, chunk: AudioChunk) -> None:
        await self.inner.send_audio(chunk)

    async def respond(self, instructions: str | None = None) -> None:
        await self.inner.respond(instructions)

    async def commit(self) -> None:
        await self.inner.commit()

    async def cancel(self) -> None:
        await self.inner.cancel()

    async def truncate(self, item_id: str, heard_ms: int) -> None:
        await self.inner.truncate(item_id, heard_ms)

    async def tool_result(self, call_id: str, output: str) -> None:
        await self.inner.tool_result(call_id, output)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def realtime(turns: int) -> dict[str, Any]:
    """OpenAI Realtime on its SDK behind a local server that answers at once: the
    model's end of turn → the reply's first frame sent, and of that, the reply's first
    audio reaching Voxtra → its first frame sent (the framework's own part)."""
    async with FakeRealtime(replies=["Hi there."] * turns, speed=0) as server:
        model = OpenAIRealtime(api_key=server.api_key, base_url=server.url,
                               silence_duration_ms=200, transcription_model=None)
        arrivals: list[float] = []
        audio = MemoryAudio()
        events = EventEmitter()
        conversation = RealtimeConversation(model, audio, audio, events, sample_rate=8000)
        connect = model.connect

        async def timed(options: RealtimeOptions) -> RealtimeSession:
            return _TimedSession(await connect(options), arrivals)

        model.connect = timed  # type: ignore[method-assign]
        stopped: list[float] = []
        started: list[float] = []
        events.on("speech_ended", lambda e: stopped.append(e.at))
        events.on("response_started", lambda e: started.append(e.at))
        await conversation.start()
        for _ in range(turns):
            await audio.speak(0.2)
            await audio.silence(0.6)
        await conversation.aclose()
        await audio.close()
    count = min(len(stopped), len(started), len(arrivals))
    return {"turns": count,
            "end_of_turn_to_first_frame_ms": percentiles(
                [started[i] - stopped[i] for i in range(count)]),
            "framework_added_ms": percentiles(
                [started[i] - arrivals[i] for i in range(count)])}


async def barge_in(rounds: int) -> dict[str, Any]:
    turn = TurnSettings(backchannel_words=[], min_interruption_speech=0.3)
    decision: list[float] = []
    onset: list[float] = []
    for _ in range(rounds):
        pipeline, audio, _, events = fake_pipeline(FakeSTT(["Stop."]), ["OK."], turn)
        cleared: list[float] = []
        events.on("interrupted", lambda event, into=cleared: into.append(event.at))  # type: ignore[misc]
        speaking = asyncio.ensure_future(pipeline.say(" ".join(["word"] * 30) + "."))
        await asyncio.sleep(0.4)
        began = time.monotonic()
        await audio.speak(0.5)
        await speaking
        silent_at = max(t for t, _ in audio.sent) + 0.020  # the last frame has played
        decision.append(silent_at - cleared[0])
        onset.append(silent_at - began)
        await pipeline.aclose()
        await audio.close()
    return {"decision_to_silence_ms": percentiles(decision),
            "speech_onset_to_silence_ms": percentiles(onset)}


def offline_app(state: SandboxState, stt: WhisperSTT, tts: PiperTTS) -> VoxtraApp:
    """An app on the sandbox with the offline stack (models shared with the others)."""
    settings = VoxtraSettings(ari_url=state.ari_url, ari_user=state.ari_user,
                              ari_password=SecretStr(state.ari_password),
                              app_name=state.app_name)
    return VoxtraApp(settings, stt=stt, llm=ScriptedLLM(REPLIES), tts=tts, vad=SileroVAD())


async def conversation(state: SandboxState, calls: int, stt: WhisperSTT, tts: PiperTTS,
                       tmp: Path) -> dict[str, Any]:
    app = offline_app(state, stt, tts)
    metrics: list[TurnMetrics] = []

    @app.route()
    async def answer_one(call: CallSession) -> None:
        call.on("metrics", metrics.append)
        await call.answer()
        heard = await call.listen(timeout=15)
        if heard is not None:
            await call.say(call.agent.reply(heard.text))
        await call.hangup()

    caller = SipCaller(state.sip_host, state.sip_port)
    at_caller: list[float] = []
    async with app:
        for index in range(calls):
            question = QUESTIONS[index % len(QUESTIONS)]
            wav = await speech_wav(tmp / f"q{index}.wav", tts, 1.5, question, 5.0)
            result = await caller.call(CallerScript(str(900 + index), audio=wav,
                                                    capture_audio=True, wait_for_bye=30))
            said = audible_spans(result.captured, received=False)
            replies = audible_spans(result.captured, received=True)
            if said and replies:
                at_caller.append(replies[0][0] - said[-1][1])

    def stage(name: str) -> dict[str, float]:
        return percentiles([v for m in metrics if (v := getattr(m, name)) is not None])

    return {"end_of_speech_to_first_reply_audio_at_caller_ms": percentiles(at_caller),
            "app_voice_to_voice_ms": stage("voice_to_voice"),
            "app_end_of_speech_to_transcript_ms": stage("end_of_speech_to_transcript"),
            "app_llm_first_token_ms": stage("llm_first_token"),
            "app_tts_first_audio_ms": stage("tts_first_audio")}


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def memory(state: SandboxState, concurrent: int, stt: WhisperSTT, tts: PiperTTS,
                 tmp: Path) -> dict[str, Any]:
    app = offline_app(state, stt, tts)
    listening: list[CallSession] = []

    @app.route()
    async def listen_only(call: CallSession) -> None:
        await call.answer()
        listening.append(call)
        while await call.listen() is not None:
            pass

    wav = await speech_wav(tmp / "long.wav", tts, 1.0, " ".join(QUESTIONS), 4.0)
    caller = SipCaller(state.sip_host, state.sip_port)
    async with app:
        # One call first, so that every lazily loaded piece is in place.
        await caller.call(CallerScript("950", audio=wav, hangup_after=8))
        before = rss_mib()
        tasks = [asyncio.create_task(caller.call(CallerScript(
            str(960 + i), audio=wav, hangup_after=12))) for i in range(concurrent)]
        peak, most = before, 0
        while not all(t.done() for t in tasks):
            await asyncio.sleep(0.25)
            active = sum(1 for c in listening if c.voice is not None and not c.ended)
            if active >= most:
                peak, most = max(peak, rss_mib()), active
        results = await asyncio.gather(*tasks)
    return {"calls_placed": concurrent, "answered": sum(r.answered for r in results),
            "most_listening_at_once": most, "rss_before_mib": round(before, 1),
            "rss_peak_mib": round(peak, 1),
            "per_call_mib": round((peak - before) / max(1, most), 2)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print("framework:", json.dumps(await fake_providers(args.turns)), flush=True)
    print("cloud:", json.dumps(await cloud_providers(args.turns)), flush=True)
    print("realtime:", json.dumps(await realtime(args.turns)), flush=True)
    print("barge_in:", json.dumps(await barge_in(10)), flush=True)
    stt, tts = WhisperSTT(), PiperTTS()
    stt.load()
    tts.load()
    sandbox = AsteriskSandbox(SandboxOptions(
        name="voice-bench", ari_port=free_port(socket.SOCK_STREAM),
        sip_port=free_port(socket.SOCK_DGRAM)))
    state = sandbox.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print("conversation:", json.dumps(
                await conversation(state, args.calls, stt, tts, Path(tmp))), flush=True)
            print("memory:", json.dumps(
                await memory(state, args.concurrent, stt, tts, Path(tmp))), flush=True)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    asyncio.run(main())
