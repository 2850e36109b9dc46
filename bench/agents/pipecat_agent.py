"""Pipecat's side of the agents benchmark: a Twilio Media Streams server, one pipeline per call.

Run it with the Python of Pipecat's own venv (``bench/agents/pipecat_setup.sh`` prints it),
never with Voxtra's: Pipecat is not a dependency of Voxtra.

    pipecat_agent.py --port P --deepgram-url URL --openai-url URL --elevenlabs-url URL

Prints ``ready PORT`` once it listens and serves ``ws://HOST:PORT/ws``. Each websocket gets
its own pipeline, as Pipecat's Twilio phone-bot example builds it (one process, one
``WorkerRunner`` per connection), so one process carries many calls, or one call each when
the harness starts a process per call:

    transport in (Twilio μ-law 8 kHz) -> Deepgram STT -> user aggregator (Silero VAD, turn
    strategies, barge-in) -> OpenAI LLM -> ElevenLabs TTS (HTTP) -> transport out
    -> assistant aggregator

Pipecat 1.14 facts this relies on (read in the installed package):

* VAD is no longer a transport parameter: ``LLMUserAggregatorParams(vad_analyzer=...)`` runs
  it in the user aggregator, which broadcasts ``VADUserStarted/StoppedSpeakingFrame`` up and
  down, so the STT service before it still sees them (Deepgram sends ``Finalize`` on the stop).
* Turns: with no ``user_turn_strategies`` the aggregator starts a turn on VAD or a transcript
  and ends it with Smart Turn v3 (an ONNX model bundled in the wheel, no torch), waiting for the
  transcript. ``--turn-stop speech-timeout`` swaps that for the plain silence timer.
* Barge-in: the start strategies default to ``enable_interruptions=True``; an interruption
  reaches the output transport, whose ``TwilioFrameSerializer`` turns it into a ``clear``.
* The output transport paces audio in real time: a 40 ms chunk (``audio_out_10ms_chunks=4``,
  320 μ-law bytes a ``media`` message) every 40 ms, whatever speed the TTS delivers at.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import aiohttp
import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.elevenlabs.tts import ElevenLabsHttpTTSService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

RATE = 8000  # Twilio Media Streams: 8 kHz mono μ-law both ways
API_KEY = "test-key"  # what the local fakes accept
VOICE_ID = "21m00Tcm4TlvDq8ikWAM"
SYSTEM_PROMPT = ("You are the phone assistant of a small shop. Answer in one or two short "
                 "sentences, without special characters: your words are spoken.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--deepgram-url", required=True, help="http(s):// or ws(s):// base")
    parser.add_argument("--openai-url", required=True, help="base URL including /v1")
    parser.add_argument("--elevenlabs-url", required=True, help="base URL, no /v1")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--turn-stop", choices=("smart-turn", "speech-timeout"),
                        default="smart-turn",
                        help="smart-turn: Pipecat 1.14's default end of turn (Smart Turn v3); "
                             "speech-timeout: VAD silence plus 0.6 s, no model")
    parser.add_argument("--log-level", default="WARNING", help="loguru level (Pipecat's logs)")
    return parser.parse_args(argv)


async def read_start(websocket: WebSocket) -> dict[str, Any]:
    """Read Twilio's opening messages (``connected``, then ``start``) and return ``start``."""
    while True:
        message: dict[str, Any] = json.loads(await websocket.receive_text())
        if message.get("event") == "start":
            return message
        if message.get("event") == "stop":
            raise WebSocketDisconnect(1000)


def build_pipeline(websocket: WebSocket, start: dict[str, Any], args: argparse.Namespace,
                   http: aiohttp.ClientSession) -> tuple[PipelineWorker,
                                                         FastAPIWebsocketTransport]:
    info = start.get("start", {})
    serializer = TwilioFrameSerializer(
        stream_sid=info.get("streamSid") or start["streamSid"],
        call_sid=info.get("callSid"),
        account_sid=info.get("accountSid"),
        # No Twilio REST credentials: auto_hang_up (the default) would refuse to start
        # without them; the caller hangs up by closing the websocket.
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
        ),
    )
    # Encoding linear16: Pipecat hands the STT the PCM the serializer decoded from μ-law;
    # sample_rate None means the pipeline's input rate (8 kHz). Interim results are on by
    # default (Settings.interim_results=True); endpointing is left to Deepgram's default.
    stt = DeepgramSTTService(api_key=API_KEY, base_url=args.deepgram_url, encoding="linear16",
                             settings=DeepgramSTTService.Settings(interim_results=True))
    llm = OpenAILLMService(api_key=API_KEY, base_url=args.openai_url,
                           settings=OpenAILLMService.Settings(model=args.model,
                                                              system_instruction=SYSTEM_PROMPT))
    # The HTTP service, not the websocket one (that speaks ElevenLabs'
    # /multi-stream-input websocket). It posts each sentence to
    # {base_url}/v1/text-to-speech/{voice}/stream/with-timestamps?output_format=pcm_8000.
    tts = ElevenLabsHttpTTSService(api_key=API_KEY, base_url=args.elevenlabs_url,
                                   aiohttp_session=http,
                                   settings=ElevenLabsHttpTTSService.Settings(
                                       voice=VOICE_ID, model="eleven_flash_v2_5"))
    strategies = None  # Pipecat's defaults: VAD/transcript start, Smart Turn v3 stop
    if args.turn_stop == "speech-timeout":
        strategies = UserTurnStrategies(stop=[SpeechTimeoutUserTurnStopStrategy()])
    # SileroVADAnalyzer with default VADParams (confidence 0.7, start 0.2 s, stop 0.2 s,
    # min_volume 0.6); its sample rate is set from the pipeline's 8 kHz at start (Silero's
    # 8 kHz model path: 256-sample windows). Each call loads its own ONNX session.
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer(),
                                            user_turn_strategies=strategies),
    )
    pipeline = Pipeline([transport.input(), stt, user_aggregator, llm, tts,
                         transport.output(), assistant_aggregator])
    worker = PipelineWorker(pipeline, params=PipelineParams(audio_in_sample_rate=RATE,
                                                            audio_out_sample_rate=RATE))
    return worker, transport


def make_app(args: argparse.Namespace) -> FastAPI:
    state: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # One HTTP connection pool for the TTS requests of every call.
        async with aiohttp.ClientSession() as http:
            state["http"] = http
            yield

    app = FastAPI(lifespan=lifespan)

    @app.websocket("/ws")
    async def call(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            start = await read_start(websocket)
        except WebSocketDisconnect:
            return
        worker, transport = build_pipeline(websocket, start, args, state["http"])

        async def on_client_disconnected(_transport: Any, _client: Any) -> None:
            await worker.cancel()  # the caller hung up: end this call's pipeline

        transport.add_event_handler("on_client_disconnected", on_client_disconnected)

        # uvicorn owns SIGINT/SIGTERM; force_gc as in Pipecat's example for long-lived servers.
        runner = WorkerRunner(handle_sigint=False, handle_sigterm=False, force_gc=True)
        await runner.add_workers(worker)
        await runner.run()

    return app


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn re-raises a caught SIGTERM after its graceful shutdown, so the process
        # would die of the signal; exit 0 instead. A second signal stops waiting for calls.
        self.force_exit = self.should_exit
        self.should_exit = True


async def serve(args: argparse.Namespace) -> None:
    config = uvicorn.Config(make_app(args), host=args.host, port=args.port, lifespan="on",
                            log_level="warning", access_log=False, ws="websockets-sansio",
                            timeout_graceful_shutdown=5)
    server = _Server(config)
    task = asyncio.create_task(server.serve())  # installs uvicorn's SIGTERM/SIGINT handling
    while not server.started:
        if task.done():
            await task  # failed to start (port in use...): raise its error
            raise SystemExit(1)
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    await task


def main() -> None:
    args = parse_args()
    logger.remove()
    logger.add(sys.stderr, level=args.log_level.upper())
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
