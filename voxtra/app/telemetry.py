"""What an operator watches: Prometheus metrics of one app, in a registry of its own.

Counted as things happen: calls ended (by final state), calls refused, ARI requests
(latency by method), ARI events (the lag from Asterisk's timestamp to their arrival),
each call's RTP at its end (packets received and lost, loss ratio, interarrival
jitter, RFC 3550 6.4.1), and each voice turn's stages (:class:`~voxtra.voice.events.
TurnMetrics`). Read when scraped: calls up, the process's load, whether ARI is
connected. Served over HTTP by :mod:`voxtra.app.status`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from voxtra.ari.model_base import Event, Message
from voxtra.call.session import CallSession
from voxtra.voice.events import TurnMetrics

#: Buckets (seconds) of the voice stages and of ARI: a phone turn is judged in tenths.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0,
                   5.0)
#: The TurnMetrics fields observed, as the ``stage`` label.
STAGES = ("end_of_speech_to_transcript", "llm_first_token", "tts_first_audio",
          "voice_to_voice", "barge_in_to_silence")


@dataclass
class Readings:
    """What is read at each scrape (callables into the app)."""

    calls_up: Callable[[], int]
    load: Callable[[], float]
    connected: Callable[[], bool]
    refused: Callable[[], int]


class _Live(Collector):
    def __init__(self, readings: Readings) -> None:
        self.readings = readings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        r = self.readings
        yield GaugeMetricFamily("voxtra_calls_active", "Calls up in this process",
                                value=r.calls_up())
        yield GaugeMetricFamily("voxtra_load", "Share of one core the event loops use",
                                value=r.load())
        yield GaugeMetricFamily("voxtra_ari_connected", "1 while the ARI event websocket "
                                "is connected", value=int(r.connected()))
        yield GaugeMetricFamily("voxtra_calls_refused", "New calls refused (max_calls, "
                                "max_load, shutting down) since the start", value=r.refused())


class Telemetry:
    def __init__(self, readings: Readings) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_Live(readings))
        self.calls = Counter("voxtra_calls", "Calls ended, by final state", ["state"],
                             registry=self.registry)
        self.ari_requests = Histogram(
            "voxtra_ari_request_seconds", "ARI REST request latency", ["method"],
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.event_lag = Histogram(
            "voxtra_ari_event_lag_seconds", "From an event's Asterisk timestamp to its "
            "arrival (Asterisk stamps to the millisecond)", buckets=LATENCY_BUCKETS,
            registry=self.registry)
        self.rtp_packets = Counter("voxtra_rtp_packets", "RTP packets of ended calls",
                                   ["kind"], registry=self.registry)
        self.rtp_loss = Histogram(
            "voxtra_rtp_loss_ratio", "Share of a call's RTP packets lost",
            buckets=(0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 1.0),
            registry=self.registry)
        self.rtp_jitter = Histogram(
            "voxtra_rtp_jitter_seconds", "A call's interarrival jitter at its end",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16),
            registry=self.registry)
        self.webhooks = Counter("voxtra_webhooks", "Webhook events by fate: delivered, "
                                "failed (every attempt), dropped (the queue was full)",
                                ["result"], registry=self.registry)
        self.turns = Histogram(
            "voxtra_turn_seconds", "Voice turn stages (voice_to_voice: end of the caller's "
            "speech to the first reply audio sent)", ["stage"], buckets=LATENCY_BUCKETS,
            registry=self.registry)

    def request(self, method: str, seconds: float) -> None:
        self.ari_requests.labels(method).observe(seconds)

    def event(self, event: Message) -> None:
        if isinstance(event, Event) and event.timestamp is not None:
            self.event_lag.observe(max(0.0, time.time() - event.timestamp.timestamp()))

    def call_started(self, call: CallSession) -> None:
        call.on("metrics", self.turn)

    def call_ended(self, call: CallSession) -> None:
        self.calls.labels(str(call.state)).inc()
        media = call.media
        if media is None:
            return
        stats = media.endpoint.jitter_stats
        self.rtp_packets.labels("received").inc(stats.received)
        self.rtp_packets.labels("lost").inc(stats.lost)
        if stats.received + stats.lost:
            self.rtp_loss.observe(stats.lost / (stats.received + stats.lost))
            self.rtp_jitter.observe(media.endpoint.jitter_seconds)

    def webhook(self, result: str) -> None:
        self.webhooks.labels(result).inc()

    def turn(self, metrics: TurnMetrics) -> None:
        for stage in STAGES:
            seconds = getattr(metrics, stage)
            if seconds is not None:
                self.turns.labels(stage).observe(seconds)
