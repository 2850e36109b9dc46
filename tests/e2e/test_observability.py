"""What an operator sees of a running app: Prometheus metrics scraped over HTTP during a
real voice call, the readiness probe, OpenTelemetry spans of the call and its turn, and
log lines that carry the call's id.

Protocol facts relied on: Prometheus' text exposition format (``name{label="v"} value``
lines; a histogram's ``_count`` and ``_sum`` series); Asterisk stamps each ARI event
with its time to the millisecond; SIPp streams the caller's WAV as RTP, 50 packets a
second; Asterisk's ``Hangup`` cause for a hangup by the app is 16 (normal clearing).
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import aiohttp
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession
from voxtra.logs import CallIdFilter, JsonFormatter
from voxtra.sandbox.audio import write_ulaw_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.sandbox.telephone import caller_audio
from voxtra.sandbox.voices import VOICES
from voxtra.settings import VoxtraSettings
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.scripted import ScriptedLLM
from voxtra.voice.providers.whisper import WhisperSTT


async def scrape(port: int) -> dict[str, float]:
    """Every sample of ``/metrics`` but histogram buckets: ``name{labels}`` -> value."""
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        return samples(await response.text())


def samples(text: str) -> dict[str, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "le" not in sample.labels:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


class Kept(logging.Handler):
    """Keeps the records, each with its call id as a handler of ``voxtra run`` has it."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(CallIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def probe(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text()


async def test_metrics_move_during_a_voice_call_and_ready_follows_the_app(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, whisper: WhisperSTT,
        piper: PiperTTS, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    voice = next(v for v in VOICES if v.name == "joe-woman")
    audio, _ = await asyncio.to_thread(caller_audio, ["What time do you open on Saturday?"],
                                       voice, lead=1.5, after=5.0, level=-22.0)
    wav = write_ulaw_wav(tmp_path / "question.wav", audio)
    app = VoxtraApp(voxtra_settings.model_copy(update={"status_port": 0}), stt=whisper,
                    tts=piper, llm=ScriptedLLM({r"open": "We open at nine."}))
    answered = asyncio.Event()

    released = asyncio.Event()

    @app.route()
    async def support(call: CallSession) -> None:
        await call.answer()
        answered.set()
        heard = await call.listen(timeout=15)
        assert heard is not None
        logging.getLogger("support").info("heard %s", heard.text)
        await call.say(call.agent.reply(heard.text))
        await released.wait()
        await call.hangup()

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)  # as a program exporting traces does, once
    kept = Kept()
    logging.getLogger().addHandler(kept)
    caplog.set_level(logging.INFO)
    try:
        async with app:
            port = app.status.port
            assert await probe(port, "/health") == (200, "ok\n")
            assert await probe(port, "/ready") == (200, "ready\n")
            before = await scrape(port)
            calling = asyncio.create_task(sip_caller.call(CallerScript(
                "300", audio=wav, wait_for_bye=30)))
            await asyncio.wait_for(answered.wait(), 10)
            during = await scrape(port)
            async with asyncio.timeout(20):  # until the reply has been said
                while "voxtra_turn_seconds_count{stage=\"voice_to_voice\"}" not in during:
                    await asyncio.sleep(0.1)
                    during = await scrape(port)
            stopping = asyncio.create_task(app.stop())  # the handler has its grace period
            await asyncio.sleep(0.2)
            draining = await probe(port, "/ready"), await probe(port, "/health")
            released.set()
            await stopping
            result = await calling
    finally:
        logging.getLogger().removeHandler(kept)
    after = samples(generate_latest(app.telemetry.registry).decode())
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert draining == ((503, "not ready: shutting down\n"), (200, "ok\n"))
    assert before["voxtra_calls_active{}"] == 0 and during["voxtra_calls_active{}"] == 1
    assert before["voxtra_ari_connected{}"] == 1
    assert after['voxtra_calls_total{state="completed"}'] == 1
    assert after["voxtra_calls_active{}"] == 0
    # ARI: requests and events measured (their counts grew through the call).
    grew = [name for name in ('voxtra_ari_request_seconds_count{method="POST"}',
                              "voxtra_ari_event_lag_seconds_count{}")
            if after.get(name, 0) > before.get(name, 0)]
    assert len(grew) == 2, (before, after)
    assert 0 <= after["voxtra_ari_event_lag_seconds_sum{}"] / \
        after["voxtra_ari_event_lag_seconds_count{}"] < 1
    # RTP: seconds of the caller's audio received; the call's loss and jitter observed once.
    assert after['voxtra_rtp_packets_total{kind="received"}'] > 100
    assert after["voxtra_rtp_loss_ratio_count{}"] == 1
    assert after["voxtra_rtp_jitter_seconds_count{}"] == 1
    # Voice: one turn, each of its stages observed.
    for stage in ("end_of_speech_to_transcript", "tts_first_audio", "voice_to_voice"):
        assert after[f'voxtra_turn_seconds_count{{stage="{stage}"}}'] == 1, stage
        assert 0 < after[f'voxtra_turn_seconds_sum{{stage="{stage}"}}'] < 5, stage
    # OpenTelemetry: the call's span, and the turn's inside it, timed as the metrics.
    finished = {span.name: span for span in spans.get_finished_spans()}
    call_span, turn_span = finished["call"], finished["turn"]
    assert call_span.attributes is not None and turn_span.attributes is not None
    assert call_span.attributes["voxtra.called_number"] == "300"
    assert call_span.attributes["voxtra.state"] == "completed"
    assert turn_span.parent is not None
    assert turn_span.parent.span_id == call_span.context.span_id
    assert turn_span.end_time is not None and turn_span.start_time is not None
    assert abs((turn_span.end_time - turn_span.start_time) / 1e9
               - float(turn_span.attributes["voxtra.turn.voice_to_voice"])) < 0.001
    # Every line the call's code logged carries its id, the handler's own too.
    ids = {r.call_id for r in kept.records  # type: ignore[attr-defined]
           if r.name in ("support", "voxtra.app.calls")}
    assert len(ids) == 1 and "-" not in ids, ids
    line = JsonFormatter().format(next(r for r in kept.records if r.name == "support"))
    assert re.fullmatch(r'\{"time": [\d.]+, "level": "INFO", "logger": "support", '
                        r'"call_id": "[^"]+", "message": "heard .*"\}', line), line
