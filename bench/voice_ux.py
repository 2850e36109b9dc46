"""How Voxtra takes turns with telephone callers, on a labelled corpus: the code under
test beside a baseline revision, in one run.

    .venv/bin/python bench/voice_ux.py [--corpus DIR] [--baseline REV | --no-baseline]
        [--revision REV] [--kinds K,...] [--channel narrowband|wideband] [--limit N]
        [--out FILE]

Needs root (it starts sandbox Asterisks), SIPp and dumpcap. The corpus is a manifest
(``DIR/manifest.json``: items with their kind, channel, script, speech stretches and a
file: a μ-law WAV for narrowband, raw G.722 for wideband); by default the newest under
``~/.cache/voxtra/voice-corpus/``, made with ``bench/voice_corpus.py`` when there is
none.

Method. Each configuration, the baseline revision (checked out with ``git worktree``
into a temporary directory, removed at the end) and the code under test (the working
tree, or ``--revision``), runs ``bench/voice_ux_app.py`` in a process of its own with
its voxtra first on ``PYTHONPATH`` and the app's default VAD, against a sandbox Asterisk
of its own; a run is of one channel, whose callers offer PCMU (narrowband, the app's
ExternalMedia in ulaw) or G722 (wideband, ExternalMedia in slin16). Calls are placed one
at a time with SIPp: after one warm-up call per configuration, each item is called by
every configuration in turn (the order alternating from item to item), so a change in
the machine's load touches both alike. SIPp streams the item's file, the RTP on its
media port is captured both ways, and the app logs its voice events. Turn kinds
(question, plain, short) are heard until ``--listen-after`` seconds after the caller's
speech ended, each final getting a short spoken reply until one is heard; overlap kinds
(backchannel, bargein, noise) are said over a long reply that starts at the answer, and
the call ends ``--settle`` seconds after the sound (a reply still playing then was not
interrupted).

Figures, per configuration and channel:

- false cut-off (turn kinds): the utterance came back as more than one final that is not
  a backchannel (a final that continues the previous turn replaces its final), or a
  reply was audible at the caller (a stretch of 0.1 s or more) before their speech
  ended, or the first such final's turn ended (its ``ended_at``) before the last stretch
  of speech began at the caller, or more than 0.3 s (a syllable) before the speech
  ended (the VAD lost the utterance's end).
- turn ended late (turn kinds): the first audible reply reached the caller more than
  1.5 s after the caller's speech ended. Calls with no reply at all are counted apart.
- voice to voice (turn kinds): the end of the caller's speech to the first audible reply
  at the caller, p50/p95, over the turns not cut off.
- word error rate: word edits (substitutions, deletions, insertions) between the script
  and all the item's finals joined, over the script's words, with words lowercased,
  punctuation dropped and numbers written as words; clean items (no noise added) and
  noisy ones apart. Noises (no script) do not count.
- barge-ins honoured: bargein items whose reply was interrupted; onset to silence: the
  caller's packet carrying the interruption's first speech to the end of the reply's
  audible stretch at the caller holding or following it, p50/p95.
- backchannels and noises that interrupted the reply.
- the app's own view, for diagnosis: turns started, replies paused, resumed,
  interrupted, provider errors.

Protocol facts relied on:

- SIPp's ``rtp_stream`` sends the file from the ACK on, 160 bytes every 20 ms (a WAV
  whole, its 58-byte header first: 7.25 ms of noise), the RTP timestamp advancing by 160
  a packet: PCMU's clock is 8000 Hz, and so is G.722's although it carries 16 kHz audio
  (RFC 3551, 4.5.2). The caller's packet whose timestamp is n past the first one's
  carries the file from n / 8000 s on, so the capture of the caller's own packets puts
  any second of the file on the capture's clock.
- dumpcap stamps packets with the host's real-time clock; the app logs that clock beside
  the monotonic one of its voice events, so both land on one timeline.
- Asterisk's bridge does not send a caller's audio back to them: what the caller receives
  audibly is the app's reply.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxtra.sandbox.asterisk import AsteriskSandbox, SandboxOptions
from voxtra.sandbox.audio import audible_spans
from voxtra.sandbox.capture import CapturedPacket
from voxtra.sandbox.errors import SippError
from voxtra.sandbox.ports import free_port
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller, SippResult

TURN_KINDS = ("question", "plain", "short")
OVERLAP_KINDS = ("backchannel", "bargein", "noise")
#: A reply later than this after the caller's speech ended is a turn ended late.
LATE = 1.5
#: A turn that ended more than this before the caller's speech did was cut off.
TAIL = 0.3
REPO = Path(__file__).resolve().parent.parent
APP = REPO / "bench" / "voice_ux_app.py"
CORPORA = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voxtra" / \
    "voice-corpus"
FIRST_NUMBER = 7000


@dataclass(frozen=True)
class Item:
    """One corpus entry (seconds are into its file)."""

    id: str
    kind: str
    channel: str
    text: str
    snr_db: float | None
    path: Path
    speech: list[tuple[float, float]]
    onset: float
    end: float

    @classmethod
    def from_entry(cls, entry: dict[str, Any], base: Path) -> Item:
        return cls(entry["id"], entry["kind"], entry["channel"], entry.get("text") or "",
                   entry.get("snr_db"), base / entry["file"],
                   [(float(a), float(b)) for a, b in entry["speech"]],
                   float(entry["onset"]), float(entry["end"]))

    def seconds(self, listen_after: float, settle: float) -> float:
        """How long after the answer the app keeps the call."""
        return self.end + (listen_after if self.kind in TURN_KINDS else settle)


# Corpus ----------------------------------------------------------------------------


def newest_manifest() -> Path | None:
    found = sorted(CORPORA.glob("**/manifest.json"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def corpus_manifest(given: Path | None) -> Path:
    if given is not None:
        return given / "manifest.json" if given.is_dir() else given
    manifest = newest_manifest()
    maker = REPO / "bench" / "voice_corpus.py"
    if manifest is None and maker.exists():
        subprocess.run([sys.executable, str(maker)], check=True)
        manifest = newest_manifest()
    if manifest is None:
        raise SystemExit(f"no corpus manifest under {CORPORA}; give one with --corpus")
    return manifest


def playable(item: Item) -> bool:
    """A file SIPp's rtp_stream sends as it is: a narrowband μ-law WAV (as PCMU) or a
    wideband raw G.722 file (as G722)."""
    if item.channel == "wideband":
        return item.path.suffix == ".g722" and item.path.exists()
    return pcmu_wav(item.path)


def pcmu_wav(path: Path) -> bool:
    """A WAV that SIPp's rtp_stream sends as PCMU: format tag 7, mono, 8 kHz."""
    data = path.read_bytes()
    at = data.find(b"fmt ")
    if not data.startswith(b"RIFF") or at < 0:
        return False
    tag, channels, rate = struct.unpack_from("<HHI", data, at + 8)
    return (tag, channels, rate) == (7, 1, 8000)


def select(items: list[Item], kinds: list[str], channels: list[str],
           limit: int | None) -> list[Item]:
    """The items of these kinds and channels, taken in turn from each (channel, kind),
    so that a small ``limit`` still covers every kind."""
    groups: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        if item.kind in kinds and item.channel in channels:
            groups.setdefault((item.channel, item.kind), []).append(item)
    chosen: list[Item] = []
    while any(groups.values()) and (limit is None or len(chosen) < limit):
        for group in groups.values():
            if group and (limit is None or len(chosen) < limit):
                chosen.append(group.pop(0))
    return chosen


# Configurations ----------------------------------------------------------------------


@contextlib.contextmanager
def worktree(revision: str, path: Path) -> Iterator[Path]:
    """``revision`` checked out in a git worktree at ``path``, removed afterwards."""
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path),
                    revision], check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)],
                       check=False, capture_output=True)


def commit_of(revision: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", revision],
                          check=True, capture_output=True, text=True).stdout.strip()


class Configuration:
    """One code revision: its sandbox Asterisk, its app process and the app's log."""

    def __init__(self, label: str, revision: str | None, code: Path, tmp: Path,
                 rtp_start: int, media_format: str) -> None:
        self.label, self.revision, self.code, self.tmp = label, revision, code, tmp
        self.media_format = media_format
        self.sandbox = AsteriskSandbox(SandboxOptions(
            name=f"voice-ux-{os.getpid()}-{label}", ari_port=free_port(socket.SOCK_STREAM),
            sip_port=free_port(socket.SOCK_DGRAM), rtp_start=rtp_start,
            rtp_end=rtp_start + 999))
        self.log = tmp / f"{label}.jsonl"
        self.stderr = tmp / f"{label}.stderr"
        self.process: subprocess.Popen[bytes] | None = None
        self.caller: SipCaller | None = None
        self.ready: dict[str, Any] = {}

    async def start(self, plan: Path, timeout: float = 300.0) -> None:
        """Start the sandbox, then the app, and wait until the app serves calls."""
        state = self.sandbox.start()
        self.caller = SipCaller(state.sip_host, state.sip_port)
        process = self.process = self._spawn({
            "PYTHONPATH": str(self.code), "VOXTRA_ARI_URL": state.ari_url,
            "VOXTRA_ARI_USER": state.ari_user, "VOXTRA_ARI_PASSWORD": state.ari_password,
            "VOXTRA_APP_NAME": state.app_name, "VOXTRA_SHUTDOWN_GRACE": "2",
            "VOXTRA_MEDIA_FORMAT": self.media_format,
            "VOICE_UX_PLAN": str(plan), "VOICE_UX_LOG": str(self.log)})
        deadline = time.monotonic() + timeout
        while not (ready := self.lines("", "ready")):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = self.stderr.read_text(errors="replace")[-2000:]
                raise SystemExit(f"the {self.label} app did not start:\n{tail}")
            await asyncio.sleep(0.2)
        self.ready = ready[0]["data"]

    def _spawn(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.stderr, "wb") as errors:
            return subprocess.Popen([sys.executable, str(APP)], cwd=self.tmp,
                                    env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                    stdout=errors, stderr=errors)

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
        self.sandbox.stop()

    def describe(self) -> dict[str, Any]:
        return {"code": self.revision or "working tree",
                "commit": commit_of(self.revision or "HEAD"), "voxtra": self.ready.get("voxtra")}

    def lines(self, call: str, event: str | None = None) -> list[dict[str, Any]]:
        """The app's log lines of ``call`` (of one ``event``)."""
        if not self.log.exists():
            return []
        found = []
        for text in self.log.read_text().split("\n")[:-1]:  # the last may be half written
            line = json.loads(text)
            if line["call"] == call and event in (None, line["event"]):
                found.append(line)
        return found

    async def call(self, item: Item, number: str, seconds: float
                   ) -> tuple[SippResult, list[dict[str, Any]]]:
        """One call of ``item``: what SIPp saw, and the app's lines once it is done."""
        assert self.caller is not None
        result = await self.caller.call(CallerScript(
            number, audio=item.path, capture_audio=True, wait_for_bye=seconds + 20,
            codec="G722" if item.channel == "wideband" else "PCMU"), timeout=seconds + 40)
        for _ in range(100):
            if self.lines(number, "done"):
                break
            await asyncio.sleep(0.1)
        return result, self.lines(number)


# Measures ------------------------------------------------------------------------------


def caller_clock(captured: list[CapturedPacket]) -> Callable[[float], float] | None:
    """Seconds into the streamed file → capture time, from the caller's sent packets
    (PCMU or G.722: both clock their RTP timestamps at 8000 Hz)."""
    sent = sorted((c for c in captured if not c.received
                   and c.packet.payload_type in (0, 9)), key=lambda c: c.time)
    if not sent:
        return None
    first = sent[0].packet.timestamp
    pairs = sorted(((c.packet.timestamp - first) % 2**32 / 8000, c.time) for c in sent)
    offsets, times = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    return lambda second: float(np.interp(second, offsets, times))


SPELLED = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
           "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
           "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth",
           "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def spoken(number: int) -> list[str]:
    """A whole number as English words (below a billion)."""
    if number < 20:
        return [SPELLED[number]]
    if number < 100:
        return [TENS[number // 10]] + (spoken(number % 10) if number % 10 else [])
    for size, name in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if number >= size:
            rest = spoken(number % size) if number % size else []
            return [*spoken(number // size), name, *rest]
    raise AssertionError(number)


def ordinal(number: int) -> list[str]:
    said = spoken(number)
    last = said[-1]
    said[-1] = ORDINAL.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return said


def words(text: str) -> list[str]:
    """Normalised words: lowercase, punctuation dropped, numbers written as words."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower().replace("\u2019", "'"))
    text = text.replace("%", " percent ").replace("&", " and ")
    found: list[str] = []
    for token in re.findall(r"\d+(?:st|nd|rd|th)?|[a-z]+(?:'[a-z]+)*", text):
        if token[0].isdigit():
            digits = token.rstrip("stndrh")
            found += ordinal(int(digits)) if digits != token else spoken(int(digits))
        else:
            found.append(token)
    return found


def edits(reference: list[str], heard: list[str]) -> int:
    """Word-level Levenshtein distance."""
    row = list(range(len(heard) + 1))
    for i, word in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(heard, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1,
                                           previous + (word != other))
    return row[-1]


def kept(finals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The finals that stand: one that ``continues`` the previous turn holds its words
    and replaces its final (the caller heard no reply in between)."""
    standing: list[dict[str, Any]] = []
    for final in finals:
        if final.get("continues"):
            index = next((i for i in range(len(standing) - 1, -1, -1)
                          if not standing[i].get("backchannel")), None)
            if index is not None:
                del standing[index]
        standing.append(final)
    return standing


def measure(item: Item, result: SippResult, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """One call's outcome (times in seconds)."""
    record: dict[str, Any] = {"id": item.id, "kind": item.kind, "channel": item.channel,
                              "snr_db": item.snr_db}
    finals = kept([line["data"] for line in lines if line["event"] == "transcript"
                   and line["data"].get("final") and line["data"]["text"].strip()])
    record["finals"] = [f["text"] for f in finals]
    record["app"] = {name: sum(1 for line in lines if line["event"] == name)
                     for name in ("speech_started", "response_paused", "response_resumed",
                                  "interrupted", "error")}
    if item.text:
        reference = words(item.text)
        record["wer"] = {"edits": edits(reference, words(" ".join(record["finals"]))),
                         "words": len(reference)}
    clock = caller_clock(result.captured)
    if not result.answered or clock is None or not lines:
        record["error"] = f"answered {result.answered}, app lines {len(lines)}, " \
                          f"sent packets {clock is not None}: {result.stderr[-300:]}"
        return record
    replies = audible_spans(result.captured, received=True)
    if item.kind in TURN_KINDS:
        to_wall = lines[0]["wall"] - lines[0]["mono"]
        heard = [f for f in finals if not f.get("backchannel")]
        end = clock(item.end)
        record["reply_after"] = round(replies[0][0] - end, 3) if replies else None
        # Where the time goes: the caller's end of speech to the app's (the VAD's lag
        # and the way in), then to the reply's first frame sent (the app's own part).
        starts = [line for line in lines if line["event"] == "response_started"]
        if heard and starts:
            record["app_heard_end_after"] = round(heard[-1]["ended_at"] + to_wall - end, 3)
            record["app_sent_after"] = round(starts[0]["data"]["at"] + to_wall - end, 3)
        metrics = [line["data"] for line in lines if line["event"] == "metrics"]
        if metrics:
            record["app_stages"] = {k: v for k, v in metrics[0].items()
                                    if isinstance(v, float)}
        record["cut_off"] = len(heard) > 1 or bool(replies and replies[0][0] < end) or (
            bool(heard) and heard[0]["ended_at"] + to_wall
            < max(clock(item.speech[-1][0]), end - TAIL))
    else:
        said = [line["data"] for line in lines if line["event"] == "say_result"]
        record["interrupted"] = bool(said) and said[0]["interrupted"] and not said[0]["cut"]
        if said:
            record["played"] = round(said[0]["played_seconds"], 2)
        onset = clock(item.onset)
        if record["interrupted"]:
            record["onset_to_silence"] = next(
                (round(end - onset, 3) for _, end in replies if end > onset), None)
    return record


def spread(values: list[float]) -> dict[str, Any]:
    """p50/p95 in milliseconds."""
    if not values:
        return {"n": 0, "p50": None, "p95": None}
    array = np.array(values) * 1000
    return {"n": len(values), "p50": round(float(np.percentile(array, 50))),
            "p95": round(float(np.percentile(array, 95)))}


def share(count: int, of: int) -> dict[str, Any]:
    return {"count": count, "of": of, "share": round(count / of, 3) if of else None}


def wer(records: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [r["wer"] for r in records if "wer" in r]
    total = sum(w["words"] for w in scored)
    return {"items": len(scored), "words": total,
            "wer": round(sum(w["edits"] for w in scored) / total, 3) if total else None}


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one configuration on one channel."""
    done = [r for r in records if "error" not in r]
    turns = [r for r in done if r["kind"] in TURN_KINDS]
    replied = [r for r in turns if r["reply_after"] is not None]

    def of_kind(kind: str) -> list[dict[str, Any]]:
        return [r for r in done if r["kind"] == kind]

    bargeins = of_kind("bargein")
    honoured = [r for r in bargeins if r["interrupted"]]
    return {
        "calls": len(records), "failed_calls": len(records) - len(done),
        "false_cutoffs": share(sum(r["cut_off"] for r in turns), len(turns)),
        "turns_ended_late": share(sum(r["reply_after"] > LATE for r in replied), len(turns)),
        "turns_without_reply": share(len(turns) - len(replied), len(turns)),
        "voice_to_voice_ms": spread([r["reply_after"] for r in replied if not r["cut_off"]]),
        "wer_clean": wer([r for r in done if r["snr_db"] is None]),
        "wer_noisy": wer([r for r in done if r["snr_db"] is not None]),
        "bargeins_honoured": share(len(honoured), len(bargeins)),
        "bargein_onset_to_silence_ms": spread(
            [r["onset_to_silence"] for r in honoured if r.get("onset_to_silence") is not None]),
        "backchannels_interrupting": share(
            sum(r["interrupted"] for r in of_kind("backchannel")), len(of_kind("backchannel"))),
        "noises_interrupting": share(
            sum(r["interrupted"] for r in of_kind("noise")), len(of_kind("noise"))),
        "app": {name: sum(r["app"][name] for r in records) for name in records[0]["app"]}
        if records else {},
    }


def table(figures: dict[str, dict[str, dict[str, Any]]], labels: list[str]) -> str:
    """The figures side by side, for people."""

    def count(f: dict[str, Any]) -> str:
        return f"{f['count']}/{f['of']}" + (f" ({f['share']:.0%})" if f["of"] else "")

    def ms(f: dict[str, Any]) -> str:
        return f"{f['p50']} / {f['p95']} (n={f['n']})" if f["n"] else "-"

    def rate(f: dict[str, Any]) -> str:
        return f"{f['wer']:.1%} of {f['words']} words" if f["words"] else "-"

    rows: list[tuple[str, str, Callable[[Any], str]]] = [
        ("false cut-offs", "false_cutoffs", count),
        (f"turns ended late (> {LATE} s)", "turns_ended_late", count),
        ("turns without a reply", "turns_without_reply", count),
        ("voice to voice p50 / p95 ms", "voice_to_voice_ms", ms),
        ("WER, clean", "wer_clean", rate), ("WER, noisy", "wer_noisy", rate),
        ("barge-ins honoured", "bargeins_honoured", count),
        ("barge-in onset -> silence p50 / p95 ms", "bargein_onset_to_silence_ms", ms),
        ("backchannels that interrupted", "backchannels_interrupting", count),
        ("noises that interrupted", "noises_interrupting", count),
        ("failed calls", "failed_calls", str)]
    out = []
    for channel, metrics in figures.items():
        out.append(f"{channel:<44}" + "".join(f"{label:<28}" for label in labels))
        for name, key, show in rows:
            out.append(f"  {name:<42}" + "".join(f"{show(metrics[key][label]):<28}"
                                                  for label in labels))
    return "\n".join(out)


# Run -------------------------------------------------------------------------------------


async def call_items(configs: list[Configuration], calls: list[tuple[str, Item]],
                     seconds: dict[str, float]) -> dict[str, list[dict[str, Any]]]:
    """Each item called by every configuration in turn, the order alternating."""
    records: dict[str, list[dict[str, Any]]] = {config.label: [] for config in configs}
    for index, (number, item) in enumerate(calls):
        for config in configs if index % 2 == 0 else configs[::-1]:
            started = time.monotonic()
            try:
                result, lines = await config.call(item, number, seconds[number])
                record = measure(item, result, lines)
            except (SippError, OSError, TimeoutError) as exc:
                record = {"id": item.id, "kind": item.kind, "channel": item.channel,
                          "snr_db": item.snr_db, "app": {}, "error": repr(exc)}
            record["seconds"] = round(time.monotonic() - started, 1)
            records[config.label].append(record)
            shown = {k: record[k] for k in ("finals", "cut_off", "reply_after", "interrupted",
                                            "onset_to_silence", "error") if k in record}
            print(f"[{index + 1}/{len(calls)}] {config.label} {item.id} {item.kind}: "
                  f"{json.dumps(shown)} ({record['seconds']} s)", file=sys.stderr, flush=True)
    return records


def side_by_side(records: dict[str, list[dict[str, Any]]], channels: list[str]
                 ) -> dict[str, dict[str, dict[str, Any]]]:
    """channel → figure → configuration → value."""
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for channel in channels:
        per = {label: summarise([r for r in found if r["channel"] == channel])
               for label, found in records.items()}
        figures[channel] = {name: {label: per[label][name] for label in per}
                            for name in next(iter(per.values()))}
    return figures


async def run(args: argparse.Namespace) -> dict[str, Any]:
    manifest = corpus_manifest(args.corpus)
    every = [Item.from_entry(e, manifest.parent) for e in json.loads(manifest.read_text())]
    usable = [i for i in every if playable(i)]
    chosen = [args.channel]
    items = select(usable, args.kinds.split(","), chosen, args.limit)
    if not items:
        raise SystemExit(f"no {args.channel} item of kinds {args.kinds} in {manifest}")
    media_format = "slin16" if args.channel == "wideband" else "ulaw"
    warmup = (str(FIRST_NUMBER), next((i for i in items if i.kind in TURN_KINDS), items[0]))
    calls = [(str(FIRST_NUMBER + 1 + n), item) for n, item in enumerate(items)]
    seconds = {number: item.seconds(args.listen_after, args.settle)
               for number, item in [warmup, *calls]}
    revisions = [] if args.no_baseline else [("baseline", args.baseline)]
    revisions.append(("under_test", args.revision))
    async with contextlib.AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="voice-ux-")))
        plan = tmp / "plan.json"
        plan.write_text(json.dumps({number: {"kind": item.kind, "until": seconds[number]}
                                    for number, item in [warmup, *calls]}))
        configs = []
        rtp_starts = random.sample(range(10000, 30000, 2000), len(revisions))
        for (label, revision), rtp_start in zip(revisions, rtp_starts, strict=True):
            code = REPO if revision is None else \
                stack.enter_context(worktree(revision, tmp / f"code-{label}"))
            configs.append(Configuration(label, revision, code, tmp, rtp_start,
                                         media_format))
            stack.push_async_callback(configs[-1].stop)
        await asyncio.gather(*(config.start(plan) for config in configs))
        for config in configs:
            await config.call(warmup[1], warmup[0], seconds[warmup[0]])
        began = time.monotonic()
        records = await call_items(configs, calls, seconds)
        elapsed = time.monotonic() - began
        if args.logs is not None:  # each app's event log, for a closer look
            args.logs.mkdir(parents=True, exist_ok=True)
            for config in configs:
                shutil.copy(config.log, args.logs / config.log.name)
        return {
            "corpus": str(manifest),
            "configurations": {config.label: config.describe() for config in configs},
            "settings": {"late_after_s": LATE, "cut_off_tail_s": TAIL,
                         "listen_after_s": args.listen_after, "settle_s": args.settle},
            "figures": side_by_side(records, list(dict.fromkeys(i.channel for i in items))),
            "seconds": {"calls": round(elapsed),
                        "per_call": round(elapsed / (len(calls) * len(configs)), 1)},
            "media_format": media_format,
            "skipped": [{"id": i.id, "channel": i.channel, "why": "no playable file"}
                        for i in every if i not in usable and i.channel in chosen],
            "items": records,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="the corpus directory or manifest")
    parser.add_argument("--baseline", default="07444ba", help="the revision compared with")
    parser.add_argument("--logs", type=Path,
                        help="keep each app's event log (JSON lines) in this directory")
    parser.add_argument("--no-baseline", action="store_true",
                        help="measure only the code under test")
    parser.add_argument("--revision", help="the code under test from this revision instead "
                                           "of the working tree")
    parser.add_argument("--kinds", default=",".join(TURN_KINDS + OVERLAP_KINDS))
    parser.add_argument("--channel", choices=["narrowband", "wideband"],
                        default="narrowband", help="the callers' line (one a run: the app "
                        "hears wideband calls as slin16)")
    parser.add_argument("--limit", type=int, help="at most this many items, every kind first")
    parser.add_argument("--listen-after", type=float, default=4.0,
                        help="seconds a turn item is heard after the caller's speech ends")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds an overlap item's reply plays on after its sound")
    parser.add_argument("--out", type=Path, help="also write the JSON document here")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop)
    document = asyncio.run(run(args))
    text = json.dumps(document, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(table(document["figures"], list(document["configurations"])), file=sys.stderr)


def stop(signum: int, frame: Any) -> None:
    """SIGTERM ends the run as Ctrl-C does: the apps, sandboxes and worktree go too."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
