"""Transfers: a caller bridged to a dialled target, and the warm transfer before it.

In a warm (attended) transfer the caller waits on hold while the app dials the
target and talks to it alone (a whisper: "call from +1 555 0100, order 4321"), over
an ExternalMedia leg of the target's own; then the app completes the transfer
(caller and target bridged), cancels it (the target is hung up, the caller comes back
off hold) or makes it a three-way call (the target joins the caller and the app's
audio in one bridge).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass, field

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError
from voxtra.ari.legs import OwnLegs
from voxtra.call.dialing import DialedLeg
from voxtra.call.errors import TransferError
from voxtra.call.media import CallMedia, MediaConfig
from voxtra.media.audio import AudioChunk, Pcm
from voxtra.media.endpoint import RtpEndpoint
from voxtra.voice.errors import VoiceNotConfiguredError
from voxtra.voice.events import SpeechResult
from voxtra.voice.speech import Speech
from voxtra.voice.tts import TTS


@dataclass(frozen=True)
class Transfer:
    """A caller connected to a dialled target in a bridge of the app's."""

    leg: DialedLeg
    bridge_id: str
    hand_off: bool
    #: Resolves when the target has hung up and the caller has left the transfer's
    #: bridge (or the call has ended): the app's next verb then reaches the caller.
    ended: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class Consultation:
    """A warm transfer in progress (from :meth:`voxtra.call.session.CallSession.consult`):
    the caller on hold, the target answered and hearing only the app."""

    def __init__(self, client: AriClient, app_name: str, leg: DialedLeg,
                 media_config: MediaConfig, own_legs: OwnLegs, tts: TTS | None,
                 finish: Callable[[str, Consultation], Awaitable[Transfer | None]]) -> None:
        self._client = client
        self._app_name = app_name
        self.leg = leg
        # No RTP from the target's media leg means it is gone: its own hangup ends the
        # consultation, so nothing watches the leg's silence.
        self._media = CallMedia(client, app_name, leg.id, media_config, own_legs)
        self._media_open = False
        self._tts = tts
        self._finish = finish
        #: None while consulting, then "completed", "cancelled" or "conference".
        self.result: str | None = None

    async def send_audio(self, audio: Pcm | AudioChunk, sample_rate: int | None = None,
                         ) -> None:
        """Play PCM to the target alone and wait until it has been sent."""
        await (await self._output()).push(audio, sample_rate).done

    async def say(self, text: str | AsyncIterable[str]) -> SpeechResult:
        """Speak ``text`` (or streamed pieces) to the target alone with the app's TTS, as
        a call's ``say`` does (sentence by sentence); returns once it has been sent."""
        if self._tts is None:
            raise VoiceNotConfiguredError("say() to a transfer target needs a TTS "
                                          "(VoxtraApp(tts=...))")
        output = await self._output()
        return await Speech(text, self._tts, output, interruptible=False).run()

    async def _output(self) -> RtpEndpoint:
        """The target's own media leg (opened on first use)."""
        self._check_open()
        if not self._media_open:
            await self._media.open()
            self._media_open = True
        return self._media.endpoint

    async def complete(self) -> Transfer:
        """Bridge the caller and the target; the caller comes off hold."""
        transfer = await self._end("completed")
        assert transfer is not None
        return transfer

    async def conference(self) -> Transfer:
        """A three-way call: the target joins the caller, and the app's audio on the
        call if it has any (it hears both and both hear it)."""
        transfer = await self._end("conference")
        assert transfer is not None
        return transfer

    async def cancel(self) -> None:
        """Hang up the target; the caller comes back off hold."""
        await self._end("cancelled")

    async def _end(self, result: str) -> Transfer | None:
        self._check_open()
        self.result = result
        await self.close_media()
        if result == "cancelled":
            await self.leg.hangup()
        return await self._finish(result, self)

    async def close_media(self) -> None:
        if self._media_open:
            self._media_open = False
            await self._media.close()

    def _check_open(self) -> None:
        if self.result is not None:
            raise TransferError(f"the consultation was {self.result} already")
        if self.leg.gone.done():
            raise TransferError(f"{self.leg.target} hung up during the consultation")


def new_bridge_id() -> str:
    return f"voxtra-br-{uuid.uuid4().hex}"


async def destroy_bridge(client: AriClient, bridge_id: str) -> None:
    with contextlib.suppress(AriError):
        await client.bridges.destroy(bridge_id)
