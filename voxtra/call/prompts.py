"""A call's prompts and keys: playing media, collecting DTMF (gather, menu), sending it.

ARI facts: ``POST /channels/{id}/play`` takes a media URI and our own playback id;
``PlaybackFinished`` (its ``state`` ``failed`` when Asterisk could not play it) may
arrive before the HTTP reply; ``ChannelDtmfReceived`` carries one digit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from voxtra.ari.errors import AriError
from voxtra.ari.model_base import Message
from voxtra.ari.models import ChannelDtmfReceived, PlaybackFinished
from voxtra.call.errors import PlaybackError
from voxtra.call.media import MEDIA_DRAIN

if TYPE_CHECKING:
    from voxtra.call.session import CallSession

log = logging.getLogger(__name__)

#: Seconds a hangup waits after the end of a playback. Measured against Asterisk 22:
#: ``PlaybackFinished`` arrives about 120 ms before the last frames of a prompt leave
#: as RTP, so hanging up at once cuts the prompt's end.
PLAYOUT_DRAIN = 0.25

#: The channel variable naming the call's latest ARI playback (see ``play_file``).
PLAYBACK_VARIABLE = "VOXTRA_PLAYBACK"

#: Asterisk copies the media cache's local path for a URL into a buffer the length of
#: the URL (asterisk/asterisk#444, still so in 22): a path longer than the URL fails
#: the playback ("does not exist in any format"). A fragment, which is never sent to
#: the server, makes the URL long enough.
URL_MIN_LENGTH = 300


class Prompts:
    """The prompt and DTMF verbs of one call (``call.play_file``, ``call.gather``, ...)."""

    def __init__(self, call: CallSession) -> None:
        self._call = call
        #: Each playback's outcome: True when it played, False when Asterisk failed it.
        self._playbacks: dict[str, asyncio.Future[bool]] = {}
        self._digits: asyncio.Queue[str] = asyncio.Queue()

    async def play_file(self, media: str) -> bool:
        if media.startswith(("http://", "https://")):
            media = f"sound:{_padded_url(media)}"  # ARI plays URLs through its media cache
        elif ":" not in media:
            media = f"sound:{media}"
        call, client = self._call, self._call._context.client
        playback_id = f"voxtra-pb-{uuid.uuid4().hex}"
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        # Registered before the request: PlaybackFinished can beat the HTTP reply.
        self._playbacks[playback_id] = done
        try:
            # Named on the channel, so a process that adopts the call after a crash can
            # stop it (a playback blocks every other request on the channel until done).
            await client.channels.set_variable(call.id, PLAYBACK_VARIABLE, playback_id)
            await client.channels.play(call.id, media, playback_id=playback_id)
            if not await call._until_ended(done) or done.cancelled():
                return False
            if not done.result():
                raise PlaybackError(f"Asterisk could not play {media} on call {call.id} "
                                    "(no such sound or recording, or the URL failed)")
            return True
        except asyncio.CancelledError:
            # Cancelling the wait (a timeout, barge-in) stops what the caller hears, if
            # Asterisk is there to hear it; the stop runs on if this task is cancelled
            # again meanwhile, and its failure is then only noted.
            stop = asyncio.ensure_future(client.playbacks.stop(playback_id))
            stop.add_done_callback(_note_failure)
            with contextlib.suppress(AriError):
                await asyncio.shield(stop)
            raise
        finally:
            self._playbacks.pop(playback_id, None)

    async def listen_dtmf(self, timeout: float | None = None) -> str | None:
        return await self._next_digit(timeout)

    async def gather(self, max_digits: int | None, timeout: float, finish_on_key: str | None,
                     prompt: str | None) -> str:
        prompt_task = asyncio.ensure_future(self.play_file(prompt)) if prompt else None
        digits = ""
        try:
            while max_digits is None or len(digits) < max_digits:
                digit = await self._next_digit(timeout, prompt_task)
                if digit is None:
                    break
                if prompt_task is not None and not prompt_task.done():
                    prompt_task.cancel()  # barge-in: the caller has started typing
                if finish_on_key and digit == finish_on_key:
                    break
                digits += digit
        finally:
            if prompt_task is not None and not prompt_task.done():
                prompt_task.cancel()
            if prompt_task is not None:
                with contextlib.suppress(asyncio.CancelledError, AriError):
                    await prompt_task
        return digits

    async def menu(self, prompt: str, options: Iterable[str], tries: int, timeout: float,
                   invalid: str | None) -> str | None:
        allowed = set(options)
        for _ in range(tries):
            choice = await self.gather(1, timeout, None, prompt)
            if choice in allowed:
                return choice
            if self._call.ended:
                return None
            if choice and invalid:
                await self.play_file(invalid)
        return None

    async def send_dtmf(self, digits: str, between_ms: int, duration_ms: int) -> None:
        call = self._call
        with call._on_channel():
            await call._context.client.channels.send_dtmf(call.id, digits, between=between_ms,
                                                          duration=duration_ms)
        call._drain_after(len(digits) * (between_ms + duration_ms) / 1000 + MEDIA_DRAIN)

    def deliver(self, event: Message) -> None:
        """A key pressed, or a playback of the call's finished."""
        if isinstance(event, ChannelDtmfReceived):
            if event.digit:
                self._digits.put_nowait(event.digit)
        elif isinstance(event, PlaybackFinished):
            future = self._playbacks.get(event.playback.id)
            if future is not None and not future.done():
                if self._call._hanging_up:  # the playback "failed" as the channel went
                    future.cancel()
                else:
                    self._call._drain_after(PLAYOUT_DRAIN)
                    future.set_result(event.playback.state != "failed")

    async def _next_digit(self, timeout: float | None,
                          prompt: asyncio.Future[bool] | None = None) -> str | None:
        """Wait for a digit; while ``prompt`` plays there is no timeout."""
        getter = asyncio.ensure_future(self._digits.get())
        ended = asyncio.ensure_future(self._call.wait_ended())
        try:
            while True:
                playing = prompt is not None and not prompt.done()
                waiters: list[asyncio.Future[Any]] = [getter, ended]
                if playing and prompt is not None:
                    waiters.append(prompt)
                done, _ = await asyncio.wait(waiters, timeout=None if playing else timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    return getter.result()
                if not (playing and prompt in done):
                    return None
        finally:
            ended.cancel()
            if not getter.done():
                getter.cancel()


def _padded_url(url: str) -> str:
    if len(url) >= URL_MIN_LENGTH:
        return url
    separator = "" if "#" in url else "#"
    return url + separator + "-" * (URL_MIN_LENGTH - len(url) - len(separator))


def _note_failure(task: asyncio.Future[Any]) -> None:
    """Retrieve a background request's outcome: a failure is noted, never left for
    asyncio to report as never retrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("background request failed: %s", task.exception())
