"""Media-plane benchmark, one run, figures printed as JSON.

    .venv/bin/python bench/media_bench.py [--seconds 5] [--calls 25,50,100,200,300]
        [--loop asyncio|uvloop]

1. Echo capacity: one Voxtra process pinned to one core runs N echo calls
   (RtpEndpoint → jitter buffer → decode → encode → pacer → RTP), against
   synthetic RTP peers in a second process on the other core, 50 packets/s each
   way per call over loopback. For each N: packets lost (sent by peers, not
   echoed back), p50/p99 of |interval between frames sent on a call - 20 ms|,
   CPU per call, frames dropped as too late, and the media clock's stalls.
2. G.711 throughput: numpy tables against a pure-Python per-sample codec.
3. Pacing after a forced 50 ms event-loop stall: the largest and smallest
   interval between frames around it (no burst means no interval near zero).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import socket
import time

import numpy as np

from voxtra.media.audio import AudioFormat
from voxtra.media.clock import MediaClock
from voxtra.media.endpoint import RtpEndpoint
from voxtra.media.g711 import ulaw_decode, ulaw_encode
from voxtra.media.pacer import Pacer
from voxtra.media.rtp import RtpPacket
from voxtra.runner import loop_factory

FRAME = 0.020


def peers(sockets: list[socket.socket], targets: list[tuple[str, int]], seconds: float,
          results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Send 50 packets/s to each target from its socket; count what comes back."""
    os.sched_setaffinity(0, {1 % os.cpu_count()})  # type: ignore[operator]

    async def run() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        received = 0

        class Counter(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: object) -> None:
                nonlocal received
                received += 1

        transports = []
        for sock in sockets:
            transport, _ = await loop.create_datagram_endpoint(Counter, sock=sock)
            transports.append(transport)
        payload = bytes([0x55]) * 160
        start = time.monotonic()
        frames = int(seconds / FRAME)
        for n in range(frames):
            delay = start + n * FRAME - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            packet = RtpPacket(0, n & 0xFFFF, n * 160, 0x1234, payload).build()
            for transport, target in zip(transports, targets, strict=True):
                transport.sendto(packet, target)
        await asyncio.sleep(0.5)  # let the last echoes come back
        return frames * len(sockets), received

    results.put(asyncio.run(run()))


async def echo_capacity(calls: int, seconds: float) -> dict[str, float]:
    endpoints = [RtpEndpoint(AudioFormat.ULAW, jitter_depth=3) for _ in range(calls)]
    local = [await e.open() for e in endpoints]
    sockets = []
    for endpoint in endpoints:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        endpoint.connect(sock.getsockname())
        endpoint.pacer.record_errors = True

    async def echo(endpoint: RtpEndpoint) -> None:
        async for chunk in endpoint.subscribe():
            endpoint.push(chunk)

    tasks = [asyncio.create_task(echo(e)) for e in endpoints]
    results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    process = multiprocessing.get_context("fork").Process(
        target=peers, args=(sockets, local, seconds, results))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    began = time.monotonic()
    process.start()
    for sock in sockets:
        sock.close()
    while process.is_alive():
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    sent, received = results.get()
    for task in tasks:
        task.cancel()
    for endpoint in endpoints:
        await endpoint.close()
    # Interval between consecutive frames sent on a call, against the nominal 20 ms.
    errors = np.abs(np.concatenate([np.diff(e.pacer.stats.times) - FRAME
                                    for e in endpoints])) * 1000
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    return {"calls": calls, "packets_sent_by_peers": sent, "lost": sent - received,
            "send_interval_error_p50_ms": float(np.percentile(errors, 50)),
            "send_interval_error_p99_ms": float(np.percentile(errors, 99)),
            "cpu_per_call_percent_of_core": 100 * cpu / elapsed / calls,
            "late_frames_dropped": sum(e.pacer.stats.late for e in endpoints),
            "clock_stalls": MediaClock.current().stats.stalls}


def python_ulaw_encode(samples: list[int]) -> bytes:
    """A per-sample μ-law encoder in plain Python (the baseline)."""
    out = bytearray()
    for sample in samples:
        value = sample >> 2
        mask = 0x7F if value < 0 else 0xFF
        value = min(abs(value), 8159) + 0x21
        segment = 0
        while segment < 8 and value > (0x40 << segment) - 1:
            segment += 1
        code = 0x7F if segment >= 8 else (segment << 4) | ((value >> (segment + 1)) & 0x0F)
        out.append((code ^ mask) & 0xFF)
    return bytes(out)


def python_ulaw_decode(data: bytes) -> list[int]:
    out = []
    for byte in data:
        code = ~byte & 0xFF
        magnitude = ((((code & 0x0F) << 3) + 0x84) << ((code >> 4) & 7)) - 0x84
        out.append(-magnitude if code & 0x80 else magnitude)
    return out


def codec_throughput() -> dict[str, float]:
    pcm = (np.random.default_rng(1).normal(0, 4000, 8000 * 60)).astype(np.int16)
    began = time.perf_counter()
    encoded = ulaw_encode(pcm)
    decoded = ulaw_decode(encoded)
    numpy_seconds = time.perf_counter() - began
    sample = pcm[:8000 * 5].tolist()
    began = time.perf_counter()
    python_bytes = python_ulaw_encode(sample)
    python_ulaw_decode(python_bytes)
    python_seconds = (time.perf_counter() - began) * 12  # scaled to the same 60 s
    assert python_bytes == encoded[:len(python_bytes)] and len(decoded) == len(pcm)
    audio_seconds = 60.0
    return {"numpy_audio_seconds_per_second": audio_seconds / numpy_seconds,
            "python_audio_seconds_per_second": audio_seconds / python_seconds,
            "speedup": python_seconds / numpy_seconds}


async def pacing_after_stall() -> dict[str, float]:
    sent: list[float] = []
    pacer = Pacer(lambda payload, marker: sent.append(time.monotonic()), record_errors=True)
    pacer.start()
    done = pacer.enqueue([b"x"] * 100)
    await asyncio.sleep(0.5)
    time.sleep(0.05)  # noqa: ASYNC251 - the forced stall
    await done.done
    await pacer.stop()
    gaps = np.diff(sent) * 1000
    errors = np.abs(np.array(pacer.stats.errors)) * 1000
    return {"frames": len(sent), "stalls_detected": MediaClock.current().stats.stalls,
            "largest_gap_ms": float(gaps.max()), "smallest_gap_ms": float(gaps.min()),
            "median_gap_ms": float(np.median(gaps)),
            "due_time_error_p99_ms": float(np.percentile(errors, 99))}


async def main(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {0})
    print("g711:", json.dumps(codec_throughput()))
    print("pacing_after_50ms_stall:", json.dumps(await pacing_after_stall()))
    for calls in (int(c) for c in args.calls.split(",")):
        print("echo:", json.dumps(await echo_capacity(calls, args.seconds)), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--calls", default="25,50,100,200,300")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    arguments = parser.parse_args()
    with asyncio.Runner(loop_factory=loop_factory() if arguments.loop == "uvloop"
                        else None) as runner:
        runner.run(main(arguments))
