"""OpenTelemetry traces: a span per call and, inside it, a span per voice turn (the end of
the caller's speech to the first reply audio, with each stage's seconds as attributes).

Used when ``opentelemetry-api`` is installed (``voxtra-asterisk[otel]``); the program
sets up the SDK and its exporter as it would for anything else (without one, the API's
tracer does nothing, at no cost). Nothing is configured here.
"""

from __future__ import annotations

import importlib.util
import time
from typing import TYPE_CHECKING, Any

from voxtra.call.session import CallSession
from voxtra.voice.events import TurnMetrics

if TYPE_CHECKING:
    from opentelemetry.trace import Span

#: The TurnMetrics fields a turn's span carries, as ``voxtra.turn.<name>`` (seconds).
TURN_STAGES = ("end_of_speech_to_transcript", "llm_first_token", "tts_first_audio",
               "voice_to_voice", "barge_in_to_silence")


def available() -> bool:
    return importlib.util.find_spec("opentelemetry") is not None


class CallTracing:
    def __init__(self) -> None:
        from opentelemetry import trace

        self._trace = trace
        self._tracer = trace.get_tracer("voxtra")
        self._spans: dict[str, Span] = {}

    def call_started(self, call: CallSession) -> None:
        span = self._tracer.start_span("call", attributes={
            "voxtra.call_id": call.id, "voxtra.called_number": call.called_number,
            "voxtra.caller_id": call.caller_id, "voxtra.direction": str(call.direction)})
        self._spans[call.id] = span
        call.on("metrics", lambda metrics: self._turn(span, metrics))

    def call_ended(self, call: CallSession) -> None:
        span = self._spans.pop(call.id, None)
        if span is None:
            return
        span.set_attributes({"voxtra.state": str(call.state),
                             "voxtra.duration": round(call.duration, 3),
                             "voxtra.hangup_cause": call.hangup_cause or 0})
        span.end()

    def _turn(self, call_span: Span, metrics: TurnMetrics) -> None:
        if metrics.voice_to_voice is None:
            return
        ended = time.time_ns()
        attributes: dict[str, Any] = {f"voxtra.turn.{stage}": seconds for stage in TURN_STAGES
                                      if (seconds := getattr(metrics, stage)) is not None}
        span = self._tracer.start_span(
            "turn", context=self._trace.set_span_in_context(call_span),
            start_time=ended - int(metrics.voice_to_voice * 1e9), attributes=attributes)
        span.end(end_time=ended)
