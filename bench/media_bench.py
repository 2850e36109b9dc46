"""Media-plane benchmark, one run, figures printed as JSON lines.

    .venv/bin/python bench/media_bench.py [--seconds 4] [--overload-seconds 30]
        [--kinds bare,floor,engine,threaded] [--loops asyncio,uvloop]

1. Echo capacity, searched: a server process pinned to one core runs N echo calls,
   each on its own UDP port, against ``rtpload`` (bench/rtpload.c, compiled here
   with the system's C compiler) on the other core, which sends 50 packets/s per
   call with the send time inside each payload. Two servers, each on asyncio's
   loop and on uvloop: ``bare`` is the simplest asyncio UDP echo (no parsing, codec
   or pacing: the socket layer's ceiling), ``engine`` is Voxtra's media path
   (RtpEndpoint → jitter buffer → decode → subscriber → push → encode → pacer on
   the media clock), and ``threaded`` the same with sockets and clock on the media
   thread, as an app runs it (``media_thread``). ``floor`` is the least any engine
   whose consumers are coroutines woken once per tick can do: each packet waits for
   the tick, which wakes its call's coroutine to send it back (no parsing, jitter
   buffer, codec or pacing). The largest N with loss < 0.05 % and p99
   return-interval error ≤ 25 ms is found by doubling then bisection. For each: CPU
   per call, p99 interval error between a call's returning packets, echo round-trip
   latency, the load an app would report (:mod:`voxtra.load`), and the engine/bare
   and engine/floor ratios.
2. Added latency: bare and engine at the same call count, latency p50/p99 apart.
3. Overload: the engine (threaded, if measured) at 1.5 times its capacity for
   ``--overload-seconds``: loss, frames dropped as late, and the echo latency second
   by second (flat, or growing).
4. G.711 per frame: one call's 20 ms frame alone, and a tick's frames of many calls
   in one array; numpy against a per-sample pure-Python codec.
5. Pacing after a forced 50 ms event-loop stall: the largest and smallest interval
   between frames around it (no burst means no interval near zero).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from voxtra.load import LoopLoad
from voxtra.media.audio import AudioFormat
from voxtra.media.clock import MediaClock
from voxtra.media.endpoint import RtpEndpoint
from voxtra.media.g711 import ulaw_decode, ulaw_encode
from voxtra.media.pacer import Pacer
from voxtra.media.thread import MediaThread
from voxtra.runner import loop_factory, tune_gc

FRAME = 0.020
HERE = Path(__file__).resolve().parent
#: Zero loss, as the search counts it: below this share lost, and a bounded p99 interval.
MAX_LOSS = 0.0005
MAX_INTERVAL_ERROR_MS = 25.0
SERVER_CORE, LOAD_CORE = 0, 1 % (os.cpu_count() or 1)


def raise_file_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# The server process ---------------------------------------------------------------

class BareEcho(asyncio.DatagramProtocol):
    """The reference: every datagram straight back to its sender."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)


class FloorCall(BareEcho):
    """The floor of any engine whose consumers are coroutines woken once per tick: each
    packet is kept until the tick, which wakes the call's coroutine to echo it (no
    parsing, jitter buffer, codec or pacing)."""

    def __init__(self) -> None:
        self.inbox: list[tuple[bytes, tuple[str, int]]] = []
        self.waiter: asyncio.Future[None] | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.inbox.append((data, addr))

    async def echo(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.waiter = loop.create_future()
            await self.waiter
            for data, addr in self.inbox:
                self.transport.sendto(data, addr)
            self.inbox.clear()


async def floor_clock(calls: list[FloorCall]) -> None:
    """One 20 ms tick on absolute deadlines, waking every call that received audio."""
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    while True:
        deadline += FRAME
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        for call in calls:
            waiter = call.waiter
            if call.inbox and waiter is not None and not waiter.done():
                waiter.set_result(None)


async def sample_load(load: LoopLoad, thread: MediaThread | None, seconds: float) -> float:
    """What ``app.load`` reads under the load: its median over the run after two seconds
    (its one-second average is still rising before); -1 if the loop was too busy to
    read it in that time (a saturated loop runs its timers late)."""
    start = time.monotonic()
    readings = []
    while True:
        await asyncio.sleep(0.25)
        now = time.monotonic() - start
        if now > seconds:
            break
        if now >= 2:
            readings.append(load.value + (thread.load.value if thread else 0.0))
    return float(np.median(readings)) if readings else -1.0


async def current_clock() -> MediaClock:
    return MediaClock.current()


async def serve(kind: str, calls: int, seconds: float, factory: Any) -> None:
    """Echo ``calls`` streams; talk to the bench over stdin/stdout, one line each way.
    Every kind runs as a Voxtra app does (:func:`voxtra.runner.tune_gc`)."""
    os.sched_setaffinity(0, {SERVER_CORE})
    tune_gc()
    loop = asyncio.get_running_loop()

    async def read_line() -> str:
        return await loop.run_in_executor(None, sys.stdin.readline)

    endpoints: list[RtpEndpoint] = []
    transports = []
    thread = MediaThread(factory) if kind == "threaded" else None
    floor: list[FloorCall] = []
    if kind not in ("bare", "floor"):
        endpoints = [RtpEndpoint(AudioFormat.ULAW, jitter_depth=3, thread=thread)
                     for _ in range(calls)]
        ports = [(await e.open())[1] for e in endpoints]
    else:
        for _ in range(calls):
            transport, protocol = await loop.create_datagram_endpoint(
                BareEcho if kind == "bare" else FloorCall, local_addr=("127.0.0.1", 0))
            transports.append(transport)
            if isinstance(protocol, FloorCall):
                floor.append(protocol)
        ports = [t.get_extra_info("sockname")[1] for t in transports]
    print("ports", *ports, flush=True)
    peers = [int(p) for p in (await read_line()).split()[1:]]

    async def echo(endpoint: RtpEndpoint) -> None:
        async for chunk in endpoint.subscribe():
            endpoint.push(chunk)

    tasks = []
    for endpoint, peer in zip(endpoints, peers, strict=False):
        endpoint.connect(("127.0.0.1", peer))
        endpoint.pacer.record_errors = True
        tasks.append(asyncio.create_task(echo(endpoint)))
    tasks += [asyncio.create_task(call.echo()) for call in floor]
    if floor:
        tasks.append(asyncio.create_task(floor_clock(floor)))
    load = LoopLoad()  # the share of the core the loops use, as an app reports it
    load.start()
    print("ready", flush=True)
    await read_line()  # go
    began = resource.getrusage(resource.RUSAGE_SELF)
    samples = asyncio.create_task(sample_load(load, thread, seconds))
    await read_line()  # stop
    ended = resource.getrusage(resource.RUSAGE_SELF)
    loops_load = await samples
    clock = await thread.run(current_clock()) if thread else MediaClock.current()
    for task in tasks:
        task.cancel()
    for endpoint in endpoints:  # stopped before their figures are read
        await endpoint.close()
    if thread is not None:
        thread.stop()
    figures: dict[str, Any] = {
        "cpu_seconds": (ended.ru_utime + ended.ru_stime) - (began.ru_utime + began.ru_stime),
        "max_rss_mib": ended.ru_maxrss / 1024, "load": round(loops_load, 3)}
    if endpoints:
        # Interval between consecutive frames the pacer sent, against the nominal 20 ms.
        errors = np.abs(np.concatenate([np.diff(e.pacer.stats.times) - FRAME
                                        for e in endpoints])) * 1000
        figures.update(
            pacer_interval_error_p99_ms=float(np.percentile(errors, 99)) if len(errors) else -1,
            late_frames_dropped=sum(e.pacer.stats.late for e in endpoints),
            received_dropped_late=sum(e.stats.dropped_late for e in endpoints),
            clock_stalls=clock.stats.stalls)
    for transport in transports:
        transport.close()
    print(json.dumps(figures), flush=True)


# The bench ------------------------------------------------------------------------

def build_load_generator() -> Path:
    binary = Path(os.environ.get("TMPDIR", "/tmp")) / "voxtra-rtpload"
    source = HERE / "rtpload.c"
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        subprocess.run(["cc", "-O2", "-o", str(binary), str(source)], check=True)
    return binary


def probe(generator: Path, kind: str, loop: str, calls: int, seconds: float) -> dict[str, Any]:
    """One run: ``calls`` echo calls for ``seconds``; the generator's and server's figures."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--loops", loop, "--calls", str(calls),
         "--seconds", str(seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    load = None
    try:
        assert server.stdin is not None and server.stdout is not None
        ports = server.stdout.readline().split()[1:]
        load = subprocess.Popen([str(generator), str(seconds), *ports],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                preexec_fn=lambda: os.sched_setaffinity(0, {LOAD_CORE}))
        assert load.stdin is not None and load.stdout is not None
        peers = load.stdout.readline().split()[1:]
        server.stdin.write("peers " + " ".join(peers) + "\n")
        server.stdin.flush()
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{kind} server did not start")
        server.stdin.write("go\n")
        server.stdin.flush()
        load.stdin.write("go\n")
        load.stdin.flush()
        figures: dict[str, Any] = json.loads(load.stdout.readline())
        server.stdin.write("stop\n")
        server.stdin.flush()
        figures.update(json.loads(server.stdout.readline()))
        server.wait(timeout=30)
    finally:
        for process in (load, server):
            if process is not None:
                process.kill()
                process.wait()
    lost = figures["sent"] - figures["received"]
    per_second = figures.pop("latency_p50_ms_per_second")
    figures.update(
        kind=kind, loop=loop, lost=lost, loss_percent=round(100 * lost / figures["sent"], 3),
        cpu_per_call_percent_of_core=round(100 * figures["cpu_seconds"] / seconds / calls, 4),
        zero_loss=lost <= MAX_LOSS * figures["sent"]
        and figures["interval_error_p99_ms"] <= MAX_INTERVAL_ERROR_MS)
    figures["latency_p50_ms_per_second"] = per_second
    return figures


def search(generator: Path, kind: str, loop: str, seconds: float,
           start: int = 250, limit: int = 6000) -> dict[str, Any]:
    """The largest call count at zero loss: double until a run loses, then bisect to 5 %."""
    good: dict[str, Any] | None = None
    runs = []
    low, high, calls = 0, limit + 1, start
    while True:
        run = probe(generator, kind, loop, calls, seconds)
        run.pop("latency_p50_ms_per_second")
        runs.append({key: run[key] for key in (
            "calls", "lost", "interval_error_p99_ms", "latency_p50_ms", "latency_p99_ms",
            "cpu_per_call_percent_of_core", "load")})
        print(f"  {kind}/{loop} {calls} calls: lost {run['lost']} of {run['sent']}, "
              f"interval p99 {run['interval_error_p99_ms']} ms, "
              f"CPU {run['cpu_per_call_percent_of_core']} %/call, load {run['load']}",
              file=sys.stderr, flush=True)
        if run["zero_loss"]:
            low, good = calls, run
        else:
            high = calls
        if high - low <= max(10, low // 20):
            break
        calls = min(calls * 2, limit) if high > limit else (low + high) // 2
        if calls == low:
            break
    # The most calls probed that also kept the interval error within 2 ms at p99.
    tight = max((r["calls"] for r in runs if not r["lost"] and r["interval_error_p99_ms"] <= 2),
                default=0)
    return {"kind": kind, "loop": loop, "zero_loss_calls": low, "tight_calls": tight,
            "at_capacity": good, "runs": runs}


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


def codec_per_frame(calls: int = 1000) -> dict[str, float]:
    """G.711 decode + encode of one 20 ms frame: alone, batched over a tick of
    ``calls`` calls, and in pure Python."""
    rng = np.random.default_rng(1)
    frames = [ulaw_encode(rng.normal(0, 4000, 160).astype(np.int16)) for _ in range(calls)]
    began = time.perf_counter()
    for frame in frames:
        ulaw_encode(ulaw_decode(frame))
    alone = (time.perf_counter() - began) / calls
    began = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        joined = ulaw_encode(ulaw_decode(b"".join(frames)))
        [joined[i * 160:(i + 1) * 160] for i in range(calls)]
    batched = (time.perf_counter() - began) / rounds / calls
    began = time.perf_counter()
    for frame in frames[:100]:
        assert python_ulaw_encode(python_ulaw_decode(frame)) == ulaw_encode(ulaw_decode(frame))
    python = (time.perf_counter() - began) / 100
    return {"numpy_one_frame_us": round(alone * 1e6, 2),
            f"numpy_batched_{calls}_calls_us_per_frame": round(batched * 1e6, 3),
            "pure_python_us": round(python * 1e6, 1)}


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


def main(args: argparse.Namespace) -> None:
    raise_file_limit()
    if args.serve:
        factory = loop_factory() if args.loops == "uvloop" else None
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(serve(args.serve, args.calls, args.seconds, factory))
        return
    os.sched_setaffinity(0, {SERVER_CORE})
    print("g711:", json.dumps(codec_per_frame()), flush=True)
    print("pacing_after_50ms_stall:", json.dumps(asyncio.run(pacing_after_stall())), flush=True)
    os.sched_setaffinity(0, {LOAD_CORE})  # the bench itself stays off the server's core
    generator = build_load_generator()
    kinds, loops = args.kinds.split(","), args.loops.split(",")
    capacity: dict[tuple[str, str], dict[str, Any]] = {}
    for loop in loops:
        for kind in kinds:
            found = capacity[kind, loop] = search(generator, kind, loop, args.seconds)
            print("capacity:", json.dumps(found), flush=True)
        for kind in [k for k in ("engine", "threaded") if k in kinds and "bare" in kinds]:
            bare, engine = capacity["bare", loop], capacity[kind, loop]
            calls = engine["zero_loss_calls"]
            if calls and bare["zero_loss_calls"]:
                same = probe(generator, "bare", loop, calls, args.seconds)
                at = engine["at_capacity"]
                floor = capacity.get(("floor", loop), {}).get("zero_loss_calls")
                print(f"{kind}_vs_bare:", json.dumps({
                    "loop": loop, "ratio": round(calls / bare["zero_loss_calls"], 2),
                    "floor_ratio": round(floor / bare["zero_loss_calls"], 2) if floor else None,
                    "ratio_to_floor": round(calls / floor, 2) if floor else None,
                    "calls": calls,
                    "added_latency_p50_ms": round(at["latency_p50_ms"]
                                                  - same["latency_p50_ms"], 2),
                    "added_latency_p99_ms": round(at["latency_p99_ms"]
                                                  - same["latency_p99_ms"], 2)}), flush=True)
        # Overload as an app runs: media on its own thread, if that kind was measured.
        engine = next((k for k in ("threaded", "engine") if k in kinds), None)
        engine_calls = capacity[engine, loop]["zero_loss_calls"] if engine else 0
        if engine and engine_calls and args.overload_seconds:
            calls = engine_calls * 3 // 2
            run = probe(generator, engine, loop, calls, args.overload_seconds)
            series = run["latency_p50_ms_per_second"]
            run.update(latency_p50_first_5s_ms=float(np.median(series[:5])),
                       latency_p50_last_5s_ms=float(np.median(series[-5:])))
            print("overload_1.5x:", json.dumps(run), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--overload-seconds", type=float, default=30.0)
    parser.add_argument("--kinds", default="bare,floor,engine,threaded")
    parser.add_argument("--loops", default="asyncio,uvloop")
    parser.add_argument("--serve", choices=["bare", "floor", "engine", "threaded"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, help=argparse.SUPPRESS)
    main(parser.parse_args())
