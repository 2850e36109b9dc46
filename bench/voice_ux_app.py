"""The app under test of ``bench/voice_ux.py``: one process per code revision.

Started by the bench with the revision's voxtra first on ``PYTHONPATH``, so it uses
only API that the revisions compared share. Settings come from ``VOXTRA_*``
(the sandbox's ARI); ``VOICE_UX_PLAN`` names a JSON file that maps each dialled
number to its item's kind and to the second after the answer (``until``) at which
the call ends; ``VOICE_UX_LOG`` is the JSON-lines file it writes: a ``ready`` line,
then per call every voice event and the handler's own lines (``answered``,
``say_result``, ``done``), each with ``time.monotonic()`` (the clock of the
events' times) and ``time.time()`` (the clock of the bench's capture).

Turn kinds: answer, then listen until ``until``; each final gets a short spoken reply
until the caller has heard one (a reply dropped unheard, because the caller went on,
is made again to the whole turn). Overlap kinds: answer and say a long reply at once
(the caller's sound comes while it plays), then listen; a reply still playing at
``until`` was not interrupted, and the call ends there (``say_result`` has ``cut``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import signal
import time
from pathlib import Path
from typing import IO, Any

import voxtra
from voxtra import CallSession
from voxtra.app import VoxtraApp
from voxtra.runner import run
from voxtra.voice.errors import ProviderError
from voxtra.voice.events import SpeechResult
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.scripted import ScriptedLLM
from voxtra.voice.providers.whisper import WhisperSTT

TURN_KINDS = ("question", "plain", "short")
SHORT_REPLY = "Thank you, one moment please."
LONG_REPLY = ("Our store opens at nine in the morning from Monday to Saturday and closes at "
              "six in the evening. On Sundays we open at ten and close at four. On public "
              "holidays the store stays closed all day, and the car park behind the "
              "building closes one hour before the store does.")
#: Voice events logged; a name a revision does not know is skipped.
EVENTS = ("speech_started", "speech_ended", "transcript", "response_started",
          "response_ended", "response_paused", "response_resumed", "interrupted",
          "metrics", "error")


def plain(value: Any) -> Any:
    """``value`` as JSON: dataclasses as objects, anything unknown as its text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


class EventLog:
    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    def write(self, call: str, event: str, data: Any = None) -> None:
        line = {"call": call, "event": event, "mono": time.monotonic(), "wall": time.time(),
                "data": plain(data)}
        self.handle.write(json.dumps(line) + "\n")
        self.handle.flush()


async def take_turns(call: CallSession, log: EventLog, until: float) -> None:
    replied = False
    while (left := until - time.monotonic()) > 0:
        try:
            heard = await call.listen(timeout=left)
        except ProviderError as exc:
            log.write(call.called_number, "listen_error", str(exc))
            continue
        if heard is None:
            return
        if not replied:
            result = await call.say(call.agent.reply(heard.text))
            replied = bool(result.heard_text)
            log.write(call.called_number, "say_result", result)


async def talk_over(call: CallSession, log: EventLog, until: float) -> None:
    saying = asyncio.ensure_future(call.say(LONG_REPLY))
    done, _ = await asyncio.wait({saying}, timeout=max(0.0, until - time.monotonic()))
    if not done:
        await call.hangup()
    result: SpeechResult = await asyncio.wait_for(saying, 10)
    log.write(call.called_number, "say_result", {**plain(result), "cut": not done})
    while done and (left := until - time.monotonic()) > 0:
        if await call.listen(timeout=left) is None:
            return


async def main(plan: dict[str, dict[str, Any]], log: EventLog) -> None:
    stt, tts = WhisperSTT(), PiperTTS()
    app = VoxtraApp(stt=stt, tts=tts, llm=ScriptedLLM({}, fallback=SHORT_REPLY))
    app.voice.providers.load()

    @app.route()
    async def item(call: CallSession) -> None:
        number = call.called_number
        for name in EVENTS:
            with contextlib.suppress(Exception):
                call.on(name, functools.partial(log.write, number, name))
        step = plan.get(number)
        await call.answer()
        log.write(number, "answered", step)
        if step is not None:
            until = time.monotonic() + step["until"]
            if step["kind"] in TURN_KINDS:
                await take_turns(call, log, until)
            else:
                await talk_over(call, log, until)
        await call.hangup()
        log.write(number, "done")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with app:
        log.write("", "ready", {"voxtra": voxtra.__file__, "pid": os.getpid()})
        await stop.wait()


if __name__ == "__main__":
    with open(os.environ["VOICE_UX_LOG"], "a") as handle:
        run(main(json.loads(Path(os.environ["VOICE_UX_PLAN"]).read_text()), EventLog(handle)))
