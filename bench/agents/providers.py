"""The cloud providers of the agents bench: local Deepgram, OpenAI and ElevenLabs servers
(``voxtra.testing.services``, which speak each service's documented protocol) with a real
service's pace, in a process of their own pinned to a core of their own, so that only
the framework's CPU is measured.

    python bench/agents/providers.py --core 1

Prints one JSON line with the three base URLs, serves until stdin closes, then prints
a JSON line with its own CPU seconds and how many requests each server had.

The pace (stated in the bench's README): Deepgram sends an interim result every 250 ms of
audio, recognises a word per 250 ms of sound and makes the words final on ``Finalize``
or after the client's ``endpointing`` pause; OpenAI sends its first token 300 ms after
the request, then 60 tokens a second; ElevenLabs sends its first audio 200 ms after the
request, then 1,600 bytes every 20 ms (μ-law, Voxtra's format: ten times faster than real
time; 16-bit PCM, Pipecat's: five times), 60 ms of speech per character of text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys

from voxtra.runner import run
from voxtra.testing.services.deepgram import FakeDeepgram
from voxtra.testing.services.elevenlabs import FakeElevenLabs
from voxtra.testing.services.openai import FakeOpenAI

QUESTION = "What time do you open on Saturday?"
REPLY = "We open at nine on Saturday. We close at five."
STT_INTERIM_EVERY = 0.25
LLM_FIRST_TOKEN = 0.3
LLM_TOKENS_PER_SECOND = 60.0
TTS_FIRST_AUDIO = 0.2
TTS_SECONDS_PER_CHAR = 0.06
TTS_CHUNK_BYTES = 1600  # 200 ms of 8 kHz μ-law, 100 ms of 8 kHz PCM


def first_sentence_delay() -> float:
    """Seconds from the LLM request until the token that ends the reply's first sentence
    (the fake sends one word a token)."""
    words = REPLY.split(".")[0].split()
    return LLM_FIRST_TOKEN + (len(words) - 1) / LLM_TOKENS_PER_SECOND


def provider_delay() -> float:
    """What the providers take of each reply's latency, in seconds: the first sentence's
    tokens, then its first audio (the final transcript comes at once on ``Finalize``)."""
    return first_sentence_delay() + TTS_FIRST_AUDIO


async def serve(core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    loop = asyncio.get_running_loop()
    async with FakeDeepgram(transcripts=[QUESTION], interim_every=STT_INTERIM_EVERY,
                            repeat=True, idle_timeout=3600) as deepgram, \
            FakeOpenAI([REPLY], first_token_delay=LLM_FIRST_TOKEN,
                       token_delay=1 / LLM_TOKENS_PER_SECOND) as openai, \
            FakeElevenLabs(first_chunk_delay=TTS_FIRST_AUDIO, chunk_bytes=TTS_CHUNK_BYTES,
                           seconds_per_char=TTS_SECONDS_PER_CHAR) as elevenlabs:
        print(json.dumps({"deepgram": deepgram.url, "openai": openai.url,
                          "elevenlabs": elevenlabs.url}), flush=True)
        await loop.run_in_executor(None, sys.stdin.read)  # until the bench closes stdin
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"cpu_seconds": usage.ru_utime + usage.ru_stime,
                          "stt_connections": len(deepgram.connections),
                          "llm_requests": len(openai.requests),
                          "tts_requests": len(elevenlabs.requests)}), flush=True)
        deepgram.connections.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--core", type=int, default=None)
    args = parser.parse_args()
    run(serve(args.core))


if __name__ == "__main__":
    main()
