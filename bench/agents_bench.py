"""AI conversations per core: Voxtra and Pipecat under the same callers, in one run.

    .venv/bin/python bench/agents_bench.py            # both frameworks, about 25 minutes
    .venv/bin/python bench/agents_bench.py --smoke    # the harness at 2 conversations each

Three kinds of process, pinned: the framework on core 0 (Voxtra: one process; Pipecat:
one process per call, as its maintainers advise, and one process for all calls), and on
core 1 the cloud providers (``agents/providers.py``: local Deepgram, OpenAI and
ElevenLabs servers on their documented protocols, at a real service's pace) and the
callers (``agents/callers.py``: RTP to Voxtra's endpoints as ExternalMedia sends it,
Twilio Media Streams to Pipecat's websocket transport). Both pipelines: Silero VAD,
Deepgram streaming STT, an OpenAI model, ElevenLabs TTS, barge-in on, 8 kHz μ-law in and
out.

For each framework an unloaded reference run (three callers, one of each voice) sets
the bounds, then the largest number of conversations on its core is searched (doubling,
then bisection) at which the conversations keep them:

* added latency: voice to voice (the end of the caller's speech to the first reply
  audio at the caller) less the providers' own delays (the first sentence's tokens and
  its first audio, fixed by the providers' pace) is at p95 at most 50 ms over the
  reference's p95 (what is left unloaded is the framework's turn-taking: the silence
  it waits for, which its settings choose);
* no reply frame late for a 60 ms jitter buffer, none missing, every turn answered;
* barge-ins silent at the caller within 300 ms of their onset, at p95 (a framework
  that misses that unloaded is held to its own reference p95 and 50 ms, and the report
  says so).

Reported for each: conversations per core, CPU per conversation (share of a core),
memory per added conversation (RSS growth; for process-per-call the RSS of one call's
process), voice-to-voice and added latency p50/p95/p99, barge-in p50/p95, and the
Voxtra / Pipecat ratios. Pipecat runs in its own venv (``agents/pipecat_setup.sh``),
never a dependency of Voxtra.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import SecretStr

from voxtra.sandbox.ports import free_port

HERE = Path(__file__).resolve().parent
AGENTS = HERE / "agents"
sys.path.insert(0, str(AGENTS))
from providers import provider_delay  # noqa: E402

#: The framework's core, and the core of the callers and the providers.
FRAMEWORK_CORE, LOAD_CORE = min(os.sched_getaffinity(0)), max(os.sched_getaffinity(0))
ADDED_BOUND = 0.05
REFERENCE_CALLS = 3
BARGE_BOUND = 0.3
TICK = os.sysconf("SC_CLK_TCK")
STARTUP_TIMEOUT = 180.0
#: Where the child processes' stderr goes.
LOGS = Path(tempfile.gettempdir()) / "voxtra-agents-bench"


def pipecat_python() -> str:
    """The Pipecat venv's python (made by ``agents/pipecat_setup.sh`` if it is missing)."""
    done = subprocess.run(["bash", str(AGENTS / "pipecat_setup.sh")], check=True,
                          capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


class Child:
    """A child process the bench talks to a line at a time."""

    #: Children still running (stopped when the bench ends, however it ends).
    running: ClassVar[set[Child]] = set()

    def __init__(self, process: asyncio.subprocess.Process, name: str, log: Path) -> None:
        self.process, self.name, self.log = process, name, log

    @classmethod
    async def start(cls, name: str, *argv: str, core: int | None = None) -> Child:
        pin = ["taskset", "-c", str(core)] if core is not None else []
        log = LOGS / f"{name}-{time.time_ns()}.log"
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                *pin, *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=stderr)
        child = cls(process, name, log)
        cls.running.add(child)
        return child

    async def line(self, prefix: str = "", timeout: float = STARTUP_TIMEOUT) -> str:
        """The next line that starts with ``prefix``."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.process.stdout.readline()
                if not raw:
                    raise RuntimeError(f"{self.name} ended (exit {await self.process.wait()}; "
                                       f"its stderr: {self.log})")
                text = raw.decode().strip()
                if text.startswith(prefix):
                    return text

    def say(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{text}\n".encode())

    def close_input(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self) -> None:
        Child.running.discard(self)
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            async with asyncio.timeout(5):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def cpu_seconds(pid: int) -> float:
    """User and system time of a process and its threads (proc(5), fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass
class Framework:
    """How to start one framework's side of a probe."""

    name: str
    #: "one": one process for all calls; "per-call": a process per call.
    mode: str
    python: str


async def start_agents(framework: Framework, calls: int, urls: str,
                       ) -> tuple[list[Child], list[str], dict[str, int]]:
    """The framework's processes, and the callers' arguments to reach them."""
    if framework.name == "voxtra":
        agent = await Child.start("voxtra", framework.python, str(AGENTS / "voxtra_agent.py"),
                                  "--calls", str(calls), "--urls", urls,
                                  core=FRAMEWORK_CORE)
        idle = int((await agent.line("idle")).split()[1])
        ports = (await agent.line("ports")).split()[1:]
        return [agent], ["rtp", "--ports", *ports], {"idle_rss_kib": idle}
    provider_urls = json.loads(urls)
    count = calls if framework.mode == "per-call" else 1
    ports = [free_port(socket.SOCK_STREAM) for _ in range(count)]
    agents = [await Child.start(
        "pipecat", framework.python, str(AGENTS / "pipecat_agent.py"), "--port", str(port),
        "--deepgram-url", provider_urls["deepgram"], "--openai-url", provider_urls["openai"],
        "--elevenlabs-url", provider_urls["elevenlabs"], "--turn-stop", "speech-timeout",
        core=FRAMEWORK_CORE)
        for port in ports]
    for agent in agents:
        await agent.line("ready")
    idle = sum(rss_kib(agent.pid) for agent in agents)
    targets = [f"ws://127.0.0.1:{ports[i % count]}/ws" for i in range(calls)]
    return agents, ["twilio", "--urls", *targets], {"idle_rss_kib": idle}


async def probe(framework: Framework, calls: int, seconds: float,
                barge_every: int = 3) -> dict[str, Any]:
    """``calls`` conversations on ``framework`` for ``seconds``: what the callers heard,
    what the framework's processes used."""
    providers = await Child.start("providers", sys.executable, str(AGENTS / "providers.py"),
                                  "--core", str(LOAD_CORE))
    children = [providers]
    try:
        urls = await providers.line("{")
        agents, target, figures = await start_agents(framework, calls, urls)
        children += agents
        callers = await Child.start("callers", sys.executable, str(AGENTS / "callers.py"),
                                    *target, "--core", str(LOAD_CORE),
                                    "--seconds", str(seconds),
                                    "--barge-every", str(barge_every))
        children.append(callers)
        if framework.name == "voxtra":
            peers = (await callers.line("ports")).split()[1:]
            agents[0].say("peers " + " ".join(peers))
            await agents[0].line("ready")
        await callers.line("go")
        began = time.monotonic()
        cpu = sum(cpu_seconds(agent.pid) for agent in agents)
        load = cpu_seconds(providers.pid) + cpu_seconds(callers.pid)
        if framework.name == "voxtra":
            agents[0].say("go")
        await callers.line("stop", timeout=seconds + 60)
        window = time.monotonic() - began
        cpu = sum(cpu_seconds(agent.pid) for agent in agents) - cpu
        load = cpu_seconds(providers.pid) + cpu_seconds(callers.pid) - load
        rss = [rss_kib(agent.pid) for agent in agents]
        heard = json.loads(await callers.line("{", timeout=60))  # the window's last turns
        if framework.name == "voxtra":
            agents[0].say("stop")
            figures["voxtra"] = json.loads(await agents[0].line("{"))
        providers.close_input()
        figures["providers"] = json.loads(await providers.line("{"))
    finally:
        for child in children:
            await child.stop()
    figures.update(calls=calls, cpu_share_per_call=cpu / window / calls,
                   load_core_share=load / window,
                   rss_kib=sum(rss), rss_kib_per_process=max(rss), heard=heard)
    return figures


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    array = np.array(values) * 1000
    return {"n": len(values), **{f"p{q}": round(float(np.percentile(array, q)), 1)
                                 for q in (50, 95, 99)}}


@dataclass
class Bounds:
    """What every probe of a framework must keep, set by its unloaded reference run."""

    #: Added latency at p95 with the reference's few calls (seconds).
    added_reference: float
    #: Barge-in onset to silence, at p95 (300 ms, or the framework's own unloaded p95
    #: and 50 ms if it misses 300 ms even then: the search then measures what load adds).
    barge_in: float

    @classmethod
    def of(cls, reference: dict[str, Any]) -> Bounds:
        heard = reference["heard"]
        added = [v - provider_delay() for v in heard["voice_to_voice_s"]] or [0.0]
        barge = heard["barge_in_s"] or [0.0]
        return cls(float(np.percentile(added, 95)),
                   max(BARGE_BOUND, float(np.percentile(barge, 95)) + ADDED_BOUND))


def judge(result: dict[str, Any], bounds: Bounds) -> list[str]:
    """What a probe broke of the bounds (empty: it kept them all)."""
    heard = result["heard"]
    added = [v - provider_delay() for v in heard["voice_to_voice_s"]]
    broken = []
    if not added or heard["no_reply"]:
        broken.append(f"{heard['no_reply']} of {heard['turns']} turns unanswered")
    if added and np.percentile(added, 95) - bounds.added_reference > ADDED_BOUND:
        broken.append(f"added latency p95 {np.percentile(added, 95) * 1000:.0f} ms, "
                      f"{bounds.added_reference * 1000:.0f} ms unloaded")
    if heard["late_frames"] or heard["sequence_gaps"]:
        broken.append(f"{heard['late_frames']} late, {heard['sequence_gaps']} missing "
                      f"of {heard['reply_frames']} reply frames")
    if heard["barge_in_s"] and np.percentile(heard["barge_in_s"], 95) > bounds.barge_in:
        broken.append(f"barge-in to silence p95 {np.percentile(heard['barge_in_s'], 95) * 1000:.0f}"
                      f" ms, bound {bounds.barge_in * 1000:.0f} ms")
    return broken


def summary(result: dict[str, Any]) -> dict[str, Any]:
    heard = result["heard"]
    return {"calls": result["calls"],
            "cpu_per_call_pct": round(result["cpu_share_per_call"] * 100, 2),
            # The other core's use by the providers and the callers: never the limit.
            "load_core_pct": round(result["load_core_share"] * 100, 1),
            "rss_mib": round(result["rss_kib"] / 1024, 1),
            "voice_to_voice_ms": percentiles(heard["voice_to_voice_s"]),
            "added_ms": percentiles([v - provider_delay() for v in heard["voice_to_voice_s"]]),
            "barge_in_ms": percentiles(heard["barge_in_s"]),
            "turns": heard["turns"], "late_frames": heard["late_frames"],
            "missing_frames": heard["sequence_gaps"], "no_reply": heard["no_reply"]}


async def search(framework: Framework, start: int, seconds: float, limit: int,
                 log: list[dict[str, Any]]) -> dict[str, Any]:
    """The largest count of conversations that keeps the bounds set by an unloaded
    reference run (one caller of each voice, twice as long)."""

    def record(result: dict[str, Any], broken: list[str]) -> None:
        log.append({"framework": framework.name, "mode": framework.mode, **summary(result),
                    "broken": broken})
        print(json.dumps(log[-1]), file=sys.stderr, flush=True)

    reference = await probe(framework, REFERENCE_CALLS, 2 * seconds)
    bounds = Bounds.of(reference)
    record(reference, judge(reference, bounds))
    results = {REFERENCE_CALLS: reference}
    good, bad = REFERENCE_CALLS, None
    calls = max(start, REFERENCE_CALLS + 1)
    while calls <= limit:
        result = await probe(framework, calls, seconds)
        broken = judge(result, bounds)
        results[calls] = result
        record(result, broken)
        if broken:
            bad = calls
        else:
            good = calls
        if bad is None:
            calls *= 2
        elif bad - good <= max(1, good // 8):
            break
        else:
            calls = (good + bad) // 2
    best = results[good]
    rss_growth = None
    if good > REFERENCE_CALLS:  # per added conversation, from the reference to the most
        rss_growth = (best["rss_kib"] - reference["rss_kib"]) / (good - REFERENCE_CALLS) / 1024
    return {"framework": framework.name, "mode": framework.mode, "conversations_per_core": good,
            "first_failing": bad, "broken_there": judge(results[bad], bounds) if bad else [],
            "bounds": {"added_reference_p95_ms": round(bounds.added_reference * 1000, 1),
                       "barge_in_p95_ms": round(bounds.barge_in * 1000, 1)},
            "rss_mib_per_added_call": None if rss_growth is None else round(rss_growth, 2),
            "rss_mib_per_process": round(best["rss_kib_per_process"] / 1024, 1),
            "idle_rss_mib": round(best["idle_rss_kib"] / 1024, 1), **summary(best)}


async def through_asterisk(calls: int) -> dict[str, Any]:
    """The validation run: Voxtra's agent as an app on the sandbox Asterisk (ARI,
    ExternalMedia), with the same providers and question; SIPp callers, one call at a
    time, and voice to voice from SIPp's capture (the end of the question it sent to the
    first reply audio it got)."""
    from callers import QUESTION, clip
    from voxtra_agent import providers as cloud

    from voxtra import CallSession
    from voxtra.app import VoxtraApp
    from voxtra.media.g711 import ulaw_decode
    from voxtra.sandbox.asterisk import AsteriskSandbox, SandboxOptions
    from voxtra.sandbox.audio import audible_spans, write_ulaw_wav
    from voxtra.sandbox.scenarios import CallerScript
    from voxtra.sandbox.sipp import SipCaller
    from voxtra.settings import VoxtraSettings

    providers = await Child.start("providers", sys.executable, str(AGENTS / "providers.py"),
                                  "--core", str(LOAD_CORE))
    sandbox = AsteriskSandbox(SandboxOptions(
        name="agents-bench", ari_port=free_port(socket.SOCK_STREAM),
        sip_port=free_port(socket.SOCK_DGRAM)))
    state = await asyncio.to_thread(sandbox.start)
    at_caller: list[float] = []
    try:
        models = cloud(json.loads(await providers.line("{")))
        app = VoxtraApp(VoxtraSettings(ari_url=state.ari_url, ari_user=state.ari_user,
                                       ari_password=SecretStr(state.ari_password),
                                       app_name=state.app_name),
                        stt=models.stt, llm=models.llm, tts=models.tts, vad=models.vad)

        @app.route()
        async def agent(call: CallSession) -> None:
            await call.answer()
            heard = await call.listen(timeout=15)
            if heard is not None:
                await call.say(call.agent.reply(heard.text))
            await call.hangup()

        question = np.concatenate([ulaw_decode(frame) for frame in clip(QUESTION, 0).frames])
        silence = np.zeros(8000, np.int16)
        with tempfile.TemporaryDirectory() as tmp:
            wav = write_ulaw_wav(Path(tmp) / "question.wav",
                                 np.concatenate([silence, question, *[silence] * 6]))
            caller = SipCaller(state.sip_host, state.sip_port)
            async with app:
                for index in range(calls):
                    result = await caller.call(CallerScript(
                        str(900 + index), audio=wav, capture_audio=True, wait_for_bye=30))
                    said = audible_spans(result.captured, received=False)
                    replies = audible_spans(result.captured, received=True)
                    if said and replies:
                        at_caller.append(replies[0][0] - said[0][1])
    finally:
        await asyncio.to_thread(sandbox.stop)
        await providers.stop()
    return {"calls": calls, "voice_to_voice_ms": percentiles(at_caller),
            "added_ms": percentiles([v - provider_delay() for v in at_caller])}


async def main(args: argparse.Namespace) -> None:
    LOGS.mkdir(exist_ok=True)
    frameworks = [Framework("voxtra", "one", sys.executable)]
    if not args.no_pipecat:
        python = pipecat_python()
        frameworks += [Framework("pipecat", "per-call", python),
                       Framework("pipecat", "one", python)]
    if args.smoke:
        report: dict[str, Any] = {"smoke": [
            summary(await probe(f, 2, args.seconds, barge_every=2))
            | {"framework": f.name, "mode": f.mode} for f in frameworks]}
        print(json.dumps(report, indent=1))
        return
    log: list[dict[str, Any]] = []
    found = [await search(f, args.start.get(f.name, 2), args.seconds, args.limit, log)
             for f in frameworks]
    report = {"provider_delay_ms": round(provider_delay() * 1000, 1), "results": found,
              "probes": log}
    voxtra = found[0]
    for other in found[1:]:
        report[f"ratio_voxtra_to_pipecat_{other['mode']}"] = {
            "conversations_per_core": round(voxtra["conversations_per_core"]
                                            / max(other["conversations_per_core"], 1), 1),
            "cpu_per_call": round(other["cpu_per_call_pct"] / voxtra["cpu_per_call_pct"], 1)}
    if args.asterisk:
        report["through_asterisk"] = await through_asterisk(args.asterisk) | {
            "direct_reference_added_p95_ms": voxtra["bounds"]["added_reference_p95_ms"]}
    print(json.dumps(report, indent=1))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="2 conversations each, no search")
    parser.add_argument("--seconds", type=float, default=30.0, help="each probe's window")
    parser.add_argument("--limit", type=int, default=512)
    parser.add_argument("--no-pipecat", action="store_true")
    parser.add_argument("--asterisk", type=int, default=6, metavar="CALLS",
                        help="calls of the validation run through the sandbox Asterisk "
                             "(needs root; 0: none)")
    args = parser.parse_args()
    args.start = {"voxtra": 16, "pipecat": 2}
    return args


async def run(args: argparse.Namespace) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        await main(args)
    finally:
        for child in list(Child.running):
            await child.stop()


if __name__ == "__main__":
    asyncio.run(run(parse()))
