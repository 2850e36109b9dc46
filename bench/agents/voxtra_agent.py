"""Voxtra's side of the agents bench: N AI conversations in one process, each on an RTP
endpoint as ARI's ExternalMedia gives an app one (8 kHz μ-law), each running the voice
pipeline an ``agent`` route runs (Silero VAD, Deepgram streaming STT, an OpenAI model,
ElevenLabs TTS; barge-in on) on the real SDKs against the bench's local servers.

    python bench/agents/voxtra_agent.py --calls N --urls JSON [--core 0]

It talks to the bench over stdin/stdout, a line each way: prints ``idle RSS_KIB`` once
the models are loaded, ``ports P1 P2 ...`` once its endpoints are open; reads
``peers Q1 Q2 ...`` (the callers' ports), starts the conversations and prints ``ready``;
reads ``go`` (the measured window starts) and ``stop``, then prints its figures as
one JSON line and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from typing import Any

import numpy as np

from voxtra.media.audio import AudioFormat
from voxtra.media.endpoint import RtpEndpoint
from voxtra.media.thread import MediaThread
from voxtra.runner import loop_factory, run
from voxtra.voice.agent import AgentClient
from voxtra.voice.emitter import EventEmitter
from voxtra.voice.errors import ProviderError
from voxtra.voice.pipeline import Providers, VoicePipeline
from voxtra.voice.providers.deepgram import DeepgramSTT
from voxtra.voice.providers.elevenlabs import ElevenLabsTTS
from voxtra.voice.providers.openai import OpenAILLM
from voxtra.voice.providers.silero import SileroVAD
from voxtra.voice.settings import VoiceSettings

KEY = "test-key"


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def providers(urls: dict[str, str]) -> Providers:
    """The cloud stack at the leg's own rate: the VAD and the recogniser take 8 kHz
    audio as it comes, the speech comes back as 8 kHz μ-law."""
    return Providers(
        stt=DeepgramSTT(api_key=KEY, model="nova-3", encoding="mulaw", sample_rate=8000,
                        base_url=urls["deepgram"]),
        llm=OpenAILLM("gpt-4o-mini", api_key=KEY, base_url=urls["openai"]),
        tts=ElevenLabsTTS(api_key=KEY, output_format="ulaw_8000",
                          base_url=urls["elevenlabs"].removesuffix("/v1")),
        vad=SileroVAD())


class Conversation:
    """What an ``agent`` route does with a call: listen, answer, until the call ends."""

    def __init__(self, endpoint: RtpEndpoint, models: Providers, settings: VoiceSettings):
        self.events = EventEmitter()
        self.agent = AgentClient(models.llm, settings.instructions,  # type: ignore[arg-type]
                                 first_token_timeout=settings.llm_timeout)
        self.pipeline = VoicePipeline(models, endpoint, endpoint, settings, self.events,
                                      self.agent)
        self.errors = 0
        self.replies = 0

    async def run(self) -> None:
        self.pipeline.start()
        while True:
            try:
                heard = await self.pipeline.listen()
                if heard is not None:
                    await self.pipeline.say(self.agent.reply(heard.text))
                    self.replies += 1
            except ProviderError:
                self.errors += 1


async def loop_lag(lags: list[float]) -> None:
    """How late the event loop wakes a 20 ms sleeper: what every call's coroutines wait
    on top of their own work."""
    while True:
        began = time.monotonic()
        await asyncio.sleep(0.02)
        lags.append(time.monotonic() - began - 0.02)


async def serve(calls: int, urls: dict[str, str], core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    loop = asyncio.get_running_loop()

    async def read_line() -> str:
        return await loop.run_in_executor(None, sys.stdin.readline)

    models = providers(urls)
    models.load()
    settings = VoiceSettings()
    print("idle", rss_kib(), flush=True)
    thread = MediaThread(loop_factory())  # the media engine on its own thread, as in an app
    endpoints = [RtpEndpoint(AudioFormat.ULAW, thread=thread) for _ in range(calls)]
    ports = [(await endpoint.open())[1] for endpoint in endpoints]
    print("ports", *ports, flush=True)
    peers = [int(p) for p in (await read_line()).split()[1:]]
    conversations = [Conversation(endpoint, models, settings) for endpoint in endpoints]
    tasks = []
    for endpoint, peer, conversation in zip(endpoints, peers, conversations, strict=True):
        endpoint.connect(("127.0.0.1", peer))
        tasks.append(asyncio.create_task(conversation.run()))
    print("ready", flush=True)
    await read_line()  # go
    began = resource.getrusage(resource.RUSAGE_SELF)
    lags: list[float] = []
    probe = asyncio.create_task(loop_lag(lags))
    await read_line()  # stop
    ended = resource.getrusage(resource.RUSAGE_SELF)
    probe.cancel()
    figures: dict[str, Any] = {
        "cpu_seconds": (ended.ru_utime + ended.ru_stime) - (began.ru_utime + began.ru_stime),
        "rss_kib": rss_kib(),
        "replies": sum(c.replies for c in conversations),
        "provider_errors": sum(c.errors for c in conversations),
        "frames_dropped_late": sum(e.pacer.stats.late for e in endpoints),
        "loop_lag_ms": {"p99": round(float(np.percentile(lags, 99)) * 1000, 1),
                        "max": round(max(lags) * 1000, 1)} if lags else None}
    for task in tasks:
        task.cancel()
    print(json.dumps(figures), flush=True)
    os._exit(0)  # the measurement is out; skip tearing down N pipelines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--urls", required=True, help="the providers' JSON line")
    parser.add_argument("--core", type=int, default=None)
    args = parser.parse_args()
    run(serve(args.calls, json.loads(args.urls), args.core))


if __name__ == "__main__":
    main()
