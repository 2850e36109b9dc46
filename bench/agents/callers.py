"""The callers of the agents bench: N phone callers, each holding a conversation with an
AI agent, as a load generator in a process of its own.

    python bench/agents/callers.py rtp --ports P1 P2 ... [--core 1] [--seconds 30]
    python bench/agents/callers.py twilio --urls ws://... ws://... [--core 1]

Each caller sends a 20 ms frame of 8 kHz μ-law every tick, as a phone does: silence, or
a 2-3 s telephone-band question (Piper voices, 300-3400 Hz, -19 dBFS) followed by
silence; it waits for the reply, lets it play, pauses 0.5-3 s and asks again (callers
start within 5 s of each other, so their turns do not fall in step). Every
``--barge-every``-th turn it says "Wait, that's not what I asked." 0.8-1.6 s into the reply.

* ``rtp`` speaks RTP (RFC 3550, payload type 0) to one UDP port per caller, as Asterisk's
  ExternalMedia channel does, and prints ``ports Q1 Q2 ...`` (its own) first.
* ``twilio`` speaks Twilio Media Streams over a websocket per caller: a ``connected`` and
  a ``start`` message (``streamSid``, ``mediaFormat`` audio/x-mulaw 8000), then ``media``
  messages with base64 payloads; the agent answers with ``media`` and ``clear`` (drop the
  audio buffered so far: a barge-in). Audio that arrives ahead of time is buffered and
  played at 20 ms a frame, as Twilio does.

What a caller measures, at its ear: voice to voice (the end of its speech to the first
reply audio it hears); a barge-in's onset (its first audible frame sent) to silence (the
end of the last reply frame it hears, or the ``clear`` that stopped it); reply frames
late for a phone's 60 ms jitter buffer (it plays a reply's first frame 60 ms after it
arrives and one frame each 20 ms after; a frame that arrives after its turn to play is
late, a glitch, and the buffer starts again from it) and RTP sequence gaps. Prints ``go`` after the
warm-up, ``stop`` at the end of the measured window, then one JSON line; only turns
whose speech ended inside the window count.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from voxtra.media.g711 import ulaw_decode, ulaw_encode
from voxtra.runner import run
from voxtra.sandbox.telephone import caller_audio
from voxtra.sandbox.voices import VOICES

FRAME = 0.02
SAMPLES = 160
SILENCE = b"\xff" * SAMPLES
#: A frame louder than this RMS is reply audio (the agent's speech), quieter is silence.
AUDIBLE = 300.0
#: A phone's jitter buffer: how long it holds a reply's first frame before playing it.
JITTER = 0.06
#: Quiet this long after reply audio ends the reply.
REPLY_GAP = 0.6
#: How far into a reply a caller cuts in (seconds), at random: people interrupt at
#: different moments, and what the VAD hears of a first word can hang on the silence before.
BARGE_AFTER = (0.8, 1.6)
#: Callers start within this many seconds, and think this long before a question, so
#: that their turns do not fall in step (as a call centre's do not).
START_SPREAD = 5.0
THINKING = (0.5, 3.0)
REPLY_TIMEOUT = 8.0
QUESTION = "What time do you open on Saturday?"
BARGE = "Wait, that's not what I asked."
_RTP = struct.Struct("!BBHII")


@dataclass
class Clip:
    """A caller's utterance as 20 ms μ-law frames, with its first and last audible frame."""

    frames: list[bytes]
    onset: int
    end: int


def clip(text: str, voice: int) -> Clip:
    pcm, spans = caller_audio([text], VOICES[voice % len(VOICES)], rate=8000, level=-19.0)
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % SAMPLES, np.int16)])
    frames = [ulaw_encode(pcm[i:i + SAMPLES]) for i in range(0, len(pcm), SAMPLES)]
    return Clip(frames, int(spans[0].start / FRAME), min(len(frames) - 1,
                                                          int(spans[-1].end / FRAME)))


@dataclass
class Reply:
    """One reply as the caller hears it."""

    first: float
    last: float
    frames: int = 0
    late: int = 0
    gaps: int = 0
    last_sequence: int | None = None
    #: When the jitter buffer plays the next frame.
    due: float = 0.0
    #: When the jitter buffer plays the next frame.
    due: float = 0.0
    #: The end of the audio heard so far (frames play one after another from arrival).
    played_until: float = 0.0
    cleared_at: float | None = None

    @property
    def silence(self) -> float:
        """When the caller stopped hearing it."""
        if self.cleared_at is not None:
            return min(self.cleared_at, self.played_until)
        return self.played_until


@dataclass
class Figures:
    voice_to_voice: list[float] = field(default_factory=list)
    barge_in: list[float] = field(default_factory=list)
    turns: int = 0
    no_reply: int = 0
    replies: int = 0
    reply_frames: int = 0
    late_frames: int = 0
    sequence_gaps: int = 0


class Caller:
    """One caller: what it sends each tick, what it hears, and its conversation."""

    def __init__(self, index: int, question: Clip, barge: Clip, barge_every: int,
                 figures: Figures, window: list[float]) -> None:
        self.index = index
        self.question, self.barge, self.barge_every = question, barge, barge_every
        self.figures, self.window = figures, window
        self.rng = random.Random(index)
        self.outgoing: deque[tuple[bytes, str | None]] = deque()
        self.marks: dict[str, float] = {}
        self.marked = asyncio.Event()
        self.replies: list[Reply] = []
        self.new_reply = asyncio.Event()
        self.sent = 0
        self.send = lambda payload: None

    # Sending ---------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        payload, mark = self.outgoing.popleft() if self.outgoing else (SILENCE, None)
        self.send(payload)
        self.sent += 1
        if mark is not None:
            self.marks[mark] = now + (FRAME if mark == "end" else 0.0)
            self.marked.set()

    async def say(self, utterance: Clip) -> tuple[float, float]:
        """Say ``utterance``; its onset and the end of its speech (send times)."""
        self.marks.clear()
        for index, frame in enumerate(utterance.frames):
            mark = "onset" if index == utterance.onset else "end" if index == utterance.end \
                else None
            self.outgoing.append((frame, mark))
        while "end" not in self.marks:
            self.marked.clear()
            await self.marked.wait()
        return self.marks["onset"], self.marks["end"]

    # Hearing ---------------------------------------------------------------------------

    def heard(self, payload: bytes, now: float, sequence: int | None = None) -> None:
        for start in range(0, len(payload), SAMPLES):
            self._frame(payload[start:start + SAMPLES], now, sequence)

    def _frame(self, frame: bytes, now: float, sequence: int | None) -> None:
        pcm = ulaw_decode(frame).astype(np.float32)
        if float(np.sqrt(np.mean(pcm * pcm))) < AUDIBLE:
            return
        reply = self.replies[-1] if self.replies else None
        if reply is None or reply.cleared_at is not None or now - reply.last > REPLY_GAP:
            reply = Reply(now, now, played_until=now, due=now + JITTER)
            self.replies.append(reply)
            self.new_reply.set()
        if now > reply.due:  # its turn to play has passed: a glitch, then buffer again
            reply.late += 1
            reply.due = now + JITTER
        reply.due += FRAME
        if sequence is not None and reply.last_sequence is not None:
            reply.gaps += (sequence - reply.last_sequence - 1) & 0xFFFF
        reply.last_sequence = sequence
        reply.frames += 1
        reply.last = now
        reply.played_until = max(now, reply.played_until) + FRAME

    def cleared(self, now: float) -> None:
        if self.replies and self.replies[-1].cleared_at is None:
            self.replies[-1].cleared_at = now

    # The conversation ------------------------------------------------------------------

    async def converse(self) -> None:
        await asyncio.sleep(self.rng.uniform(0.0, START_SPREAD))  # calls arrive at random
        turn = 0
        said: float | None = None  # the end of a barge-in: the next turn's question
        while True:
            turn += 1
            count = len(self.replies)
            if said is None:
                _, ended = await self.say(self.question)
            else:
                ended, said = said, None
            reply = await self._reply_after(count, ended)
            inside = self.window[0] <= ended <= self.window[1]
            self.figures.turns += inside
            if reply is None:
                self.figures.no_reply += inside
                continue
            if inside:
                self.figures.voice_to_voice.append(reply.first - ended)
            if turn % self.barge_every == 0:
                cut_in = reply.first + self.rng.uniform(*BARGE_AFTER)
                await asyncio.sleep(max(0.0, cut_in - time.monotonic()))
                if time.monotonic() - reply.last < REPLY_GAP:  # still playing: cut in
                    onset, said = await self.say(self.barge)
                    await self._ended(reply)
                    if self.window[0] <= onset <= self.window[1]:
                        self.figures.barge_in.append(reply.silence - onset)
                    continue
            await self._ended(reply)
            await asyncio.sleep(self.rng.uniform(*THINKING))

    def _count(self, reply: Reply) -> None:
        if self.window[0] <= reply.first <= self.window[1]:
            self.figures.replies += 1
            self.figures.reply_frames += reply.frames
            self.figures.late_frames += reply.late
            self.figures.sequence_gaps += reply.gaps

    async def _reply_after(self, count: int, ended: float) -> Reply | None:
        """The first reply heard after the speech that ended at ``ended``."""
        deadline = ended + REPLY_TIMEOUT
        while True:
            fresh = [r for r in self.replies[count:] if r.first > ended]
            if fresh:
                return fresh[0]
            self.new_reply.clear()
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self.new_reply.wait()
            except TimeoutError:
                return None

    async def _ended(self, reply: Reply) -> None:
        """Wait until ``reply`` has been heard to its end (or cut), and count it."""
        while reply.cleared_at is None and time.monotonic() - reply.last < REPLY_GAP:
            await asyncio.sleep(0.1)
        self._count(reply)


# Transports ----------------------------------------------------------------------------

class RtpLeg(asyncio.DatagramProtocol):
    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        self.transport: asyncio.DatagramTransport | None = None  # set once it is bound
        self.sequence = random.Random(caller.index).randrange(1 << 16)
        self.ssrc = 0x5EED0000 + caller.index
        self.peer: tuple[str, int] | None = None

    def send(self, payload: bytes) -> None:
        assert self.transport is not None
        header = _RTP.pack(0x80, 0, self.sequence & 0xFFFF, (self.caller.sent * SAMPLES)
                           & 0xFFFFFFFF, self.ssrc)
        self.sequence += 1
        self.transport.sendto(header + payload, self.peer)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) > 12 and data[0] == 0x80:
            _, _, sequence, _, _ = _RTP.unpack_from(data)
            self.caller.heard(data[12:], time.monotonic(), sequence)


class TwilioLeg:
    """Twilio Media Streams, as Twilio's side of the websocket."""

    def __init__(self, caller: Caller, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.caller, self.ws = caller, ws
        self.sid = f"MZ{caller.index:032x}"
        self.chunk = 0
        self.outgoing: asyncio.Queue[str] = asyncio.Queue()

    async def start(self) -> None:
        await self.ws.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.ws.send_json({
            "event": "start", "sequenceNumber": "1", "streamSid": self.sid,
            "start": {"streamSid": self.sid, "accountSid": "AC" + "0" * 32,
                      "callSid": f"CA{self.caller.index:032x}", "tracks": ["inbound"],
                      "customParameters": {},
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1}}})

    def send(self, payload: bytes) -> None:
        self.chunk += 1
        message = json.dumps({"event": "media", "streamSid": self.sid, "sequenceNumber":
                              str(self.chunk + 1), "media": {
                                  "track": "inbound", "chunk": str(self.chunk),
                                  "timestamp": str(self.chunk * 20),
                                  "payload": base64.b64encode(payload).decode()}})
        self.outgoing.put_nowait(message)

    async def write(self) -> None:
        while True:
            await self.ws.send_str(await self.outgoing.get())

    async def receive(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            now = time.monotonic()
            if data.get("event") == "media":
                self.caller.heard(base64.b64decode(data["media"]["payload"]), now)
            elif data.get("event") == "clear":
                self.caller.cleared(now)


# The run -------------------------------------------------------------------------------

async def ticker(callers: list[Caller]) -> None:
    """Every caller's frame each 20 ms, on an absolute schedule."""
    start = time.monotonic()
    tick = 0
    while True:
        tick += 1
        await asyncio.sleep(max(0.0, start + tick * FRAME - time.monotonic()))
        now = time.monotonic()
        for caller in callers:
            caller.tick(now)


async def main(args: argparse.Namespace) -> None:
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    loop = asyncio.get_running_loop()
    voices = range(3)  # a man, a lower man, a higher voice
    questions = [await asyncio.to_thread(clip, QUESTION, v) for v in voices]
    barges = [await asyncio.to_thread(clip, BARGE, v) for v in voices]
    figures = Figures()
    window = [float("inf"), float("inf")]
    count = len(args.ports or args.urls)
    callers = [Caller(i, questions[i % 3], barges[i % 3], args.barge_every, figures, window)
               for i in range(count)]
    tasks: list[asyncio.Task[Any]] = []
    session = aiohttp.ClientSession()
    if args.transport == "rtp":
        legs, ports = [], []
        for caller in callers:
            transport, leg = await loop.create_datagram_endpoint(
                lambda caller=caller: RtpLeg(caller), local_addr=("127.0.0.1", 0),
                family=socket.AF_INET)
            leg.transport = transport
            caller.send = leg.send
            legs.append(leg)
            ports.append(transport.get_extra_info("sockname")[1])
        print("ports", *ports, flush=True)
        for leg, port in zip(legs, args.ports, strict=True):
            leg.peer = ("127.0.0.1", port)
    else:
        for caller, url in zip(callers, args.urls, strict=True):
            ws = await session.ws_connect(url, max_msg_size=0, heartbeat=None)
            twilio = TwilioLeg(caller, ws)
            await twilio.start()
            caller.send = twilio.send
            tasks += [asyncio.create_task(twilio.receive()),
                      asyncio.create_task(twilio.write())]
        print("connected", flush=True)
    tasks.append(asyncio.create_task(ticker(callers)))
    tasks += [asyncio.create_task(caller.converse()) for caller in callers]
    began = time.monotonic()
    await asyncio.sleep(args.warmup)
    window[:] = [time.monotonic(), time.monotonic() + args.seconds]
    print("go", flush=True)
    await asyncio.sleep(args.seconds)
    print("stop", flush=True)
    await asyncio.sleep(REPLY_TIMEOUT)  # the window's last turns finish
    for task in tasks:
        task.cancel()
    await session.close()
    print(json.dumps({
        "callers": count, "seconds": args.seconds, "ran": round(time.monotonic() - began, 1),
        "turns": figures.turns, "no_reply": figures.no_reply, "replies": figures.replies,
        "reply_frames": figures.reply_frames, "late_frames": figures.late_frames,
        "sequence_gaps": figures.sequence_gaps,
        "voice_to_voice_s": [round(v, 4) for v in figures.voice_to_voice],
        "barge_in_s": [round(v, 4) for v in figures.barge_in]}), flush=True)
    os._exit(0)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("transport", choices=["rtp", "twilio"])
    parser.add_argument("--ports", type=int, nargs="*", default=[])
    parser.add_argument("--urls", nargs="*", default=[])
    parser.add_argument("--core", type=int, default=None)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--barge-every", type=int, default=3)
    return parser.parse_args()


if __name__ == "__main__":
    run(main(parse()))
