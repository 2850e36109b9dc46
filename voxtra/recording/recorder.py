"""A call's recordings: started through ARI, delivered to their sink exactly once.

A recording is made of a snoop channel on the call (``POST /channels/{id}/snoop``,
spying both directions: the caller and what they hear), not of the call's channel
itself: ARI refuses to add a channel that is recording to a bridge (HTTP 409
"currently recording"), which would stop the call from getting a media leg, being
transferred or conferenced while recorded.

The call's channel names its running recordings (:data:`RECORDINGS_VARIABLE`): a
process that adopts the call after a crash takes them over (:meth:`Recorder.resume`)
and delivers them, since the snoop channels keep recording meanwhile.

``RecordingFinished`` normally arrives at once when a recording stops; when the
call ends first, Asterisk finishes the file but the app may no longer hear of it
(Stasis drops its subscription at ``StasisEnd``), so delivery falls back to
asking ARI for the stored recording. The file is downloaded through ARI
(``GET /recordings/stored/{name}/file``: no shared disk needed), handed to the
sink, and only then deleted from Asterisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import logging
import uuid
import wave
from datetime import UTC, datetime
from pathlib import Path

from voxtra.ari.client import AriClient
from voxtra.ari.errors import AriError, AriHttpError, NotFoundError
from voxtra.ari.legs import OwnLegs
from voxtra.ari.model_base import Message
from voxtra.ari.models import RecordingFailed, RecordingFinished
from voxtra.recording.errors import RecordingError
from voxtra.recording.sinks import LocalFileSink, RecordingMetadata, RecordingSink

log = logging.getLogger(__name__)


#: Channel variable on a call naming its running recordings (JSON: name, format, snoop
#: channel, start time of each).
RECORDINGS_VARIABLE = "VOXTRA_RECORDINGS"

#: The ids of the snoop channels recordings are made of start with this.
RECORDING_LEG_PREFIX = "voxtra-rec-"


@dataclasses.dataclass
class _Recording:
    name: str
    format: str
    sink: RecordingSink
    started_at: datetime
    finished: asyncio.Future[float | None]
    snoop_id: str = ""
    delivery: asyncio.Task[RecordingMetadata] | None = None


@dataclasses.dataclass(frozen=True)
class CallParty:
    """Who a recording belongs to (copied into its metadata)."""

    call_id: str
    caller_id: str
    called_number: str


#: What ARI's 500 to ``POST /channels/{id}/record`` means on a stock Asterisk.
NO_RECORDING_DIRECTORY = (
    "Asterisk could not create the recording file (ARI answered HTTP 500): it has no "
    "spool/recording directory, which Debian's and Ubuntu's packages do not make. Create "
    "it for the user Asterisk runs as, e.g. "
    "`install -d -o asterisk -g asterisk /var/spool/asterisk/recording` "
    "(astspooldir in asterisk.conf says where the spool is)")


class Recorder:
    def __init__(self, client: AriClient, channel_id: str, recordings_dir: Path,
                 default_sink: RecordingSink | None = None, *, app_name: str = "",
                 own_legs: OwnLegs | None = None, bridge_id: str | None = None) -> None:
        """Records the call ``channel_id`` through a snoop channel, or with
        ``bridge_id`` that bridge itself (a conference)."""
        self._client = client
        self._channel_id = channel_id
        self._bridge_id = bridge_id
        self._app_name = app_name
        self._own_legs = own_legs if own_legs is not None else OwnLegs()
        self._dir = recordings_dir
        self._default_sink = default_sink
        self._recordings: dict[str, _Recording] = {}
        #: Metadata of every recording its sink has stored, by name.
        self.stored: dict[str, RecordingMetadata] = {}

    async def start(self, name: str | None, fmt: str, sink: RecordingSink | None,
                    max_duration: int | None, beep: bool) -> str:
        name = name or f"{self._channel_id}-{len(self._recordings) + 1}"
        loop = asyncio.get_running_loop()
        # Registered before the request: RecordingFinished can beat the HTTP reply.
        snoop_id = "" if self._bridge_id is not None else \
            f"{RECORDING_LEG_PREFIX}{uuid.uuid4().hex}"
        recording = self._recordings[name] = _Recording(
            name, fmt, sink or self._default_sink or LocalFileSink(self._dir),
            datetime.now(UTC), loop.create_future(), snoop_id)
        try:
            if self._bridge_id is not None:
                await self._client.bridges.record(self._bridge_id, name, fmt,
                                                  max_duration=max_duration, beep=beep,
                                                  if_exists="fail")
                return name
            entered = self._own_legs.add(snoop_id, self._snoop_event)
            await self._client.channels.snoop(self._channel_id, self._app_name, spy="both",
                                              snoop_id=snoop_id)
            await asyncio.wait_for(entered.wait(), 10)
            if beep:
                await self._client.channels.play(self._channel_id, "sound:beep")
            await self._client.channels.record(snoop_id, name, fmt,
                                               max_duration=max_duration, if_exists="fail")
        except BaseException as exc:
            del self._recordings[name]
            await self._release(recording)
            if isinstance(exc, AriHttpError) and exc.status == 500:
                raise RecordingError(NO_RECORDING_DIRECTORY) from exc
            raise
        await self._note()
        return name

    def resume(self, noted: str) -> list[str]:
        """Take over the recordings a crashed process left running on the call
        (``noted``: the value of :data:`RECORDINGS_VARIABLE`); their names."""
        try:
            entries = [(str(n), str(f), str(s), datetime.fromisoformat(t))
                       for n, f, s, t in json.loads(noted)]
        except (ValueError, TypeError):
            log.warning("call %s: unreadable %s, recordings not resumed", self._channel_id,
                        RECORDINGS_VARIABLE)
            return []
        loop = asyncio.get_running_loop()
        for name, fmt, snoop_id, started_at in entries:
            if name not in self._recordings and snoop_id.startswith(RECORDING_LEG_PREFIX):
                self._recordings[name] = _Recording(
                    name, fmt, self._default_sink or LocalFileSink(self._dir), started_at,
                    loop.create_future(), snoop_id)
                self._own_legs.add(snoop_id, self._snoop_event)
        return [entry[0] for entry in entries if entry[0] in self._recordings]

    async def _note(self) -> None:
        """Name the running recordings on the call's channel."""
        if self._bridge_id is not None:
            return
        running = [[r.name, r.format, r.snoop_id, r.started_at.isoformat()]
                   for r in self._recordings.values() if r.delivery is None]
        with contextlib.suppress(AriError):
            await self._client.channels.set_variable(self._channel_id, RECORDINGS_VARIABLE,
                                                     json.dumps(running))

    def _snoop_event(self, event: Message) -> None:
        if isinstance(event, RecordingFinished | RecordingFailed):
            self.on_event(event)

    async def _release(self, recording: _Recording) -> None:
        """Hang up the recording's snoop channel."""
        if recording.snoop_id and recording.snoop_id in self._own_legs:
            with contextlib.suppress(AriError):
                await self._client.channels.hangup(recording.snoop_id)
            self._own_legs.discard(recording.snoop_id)

    async def stop(self, name: str | None, party: CallParty) -> str | None:
        """Stop a recording (the latest still running by default) and wait until its
        sink has the file; its name, or None when nothing was recording."""
        if name is None:
            running = [r for r in self._recordings.values() if r.delivery is None]
            if not running:
                return None
            name = running[-1].name
        await self._client.recordings.stop(name)
        await self.deliver(self._recordings[name], party)
        await self._note()
        return name

    def on_event(self, event: RecordingFinished | RecordingFailed) -> None:
        recording = self._recordings.get(event.recording.name or "")
        if recording is None or recording.finished.done():
            return
        if isinstance(event, RecordingFailed):
            recording.finished.set_exception(RecordingError(
                f"Asterisk failed recording {recording.name}: {event.recording.cause}"))
        else:
            recording.finished.set_result(event.recording.duration)

    async def finish_all(self, party: CallParty) -> None:
        """At the end of the call: deliver every recording not delivered yet."""
        for recording in list(self._recordings.values()):
            try:
                await self.deliver(recording, party)
            except Exception:
                log.exception("recording %s of call %s was not delivered", recording.name,
                              self._channel_id)

    def deliver(self, recording: _Recording, party: CallParty,
                ) -> asyncio.Future[RecordingMetadata]:
        """Fetch the finished file and hand it to the sink, once per recording."""
        if recording.delivery is None:
            recording.delivery = asyncio.ensure_future(self._fetch_and_store(recording, party))
        return asyncio.shield(recording.delivery)

    async def _fetch_and_store(self, recording: _Recording, party: CallParty,
                               ) -> RecordingMetadata:
        reported: float | None = None
        with contextlib.suppress(TimeoutError):
            reported = await asyncio.wait_for(asyncio.shield(recording.finished), 3)
        await self._release(recording)
        data = b""
        for _ in range(50):
            try:
                data = await self._client.recordings.download(recording.name)
                break
            except NotFoundError:
                await asyncio.sleep(0.1)
        if not data:
            raise RecordingError(f"recording {recording.name} never appeared in Asterisk")
        path = self._dir / ".incoming" / f"{recording.name}.{recording.format}"
        await asyncio.to_thread(_write, path, data)
        metadata = RecordingMetadata(
            name=recording.name, format=recording.format, call_id=party.call_id,
            caller_id=party.caller_id, called_number=party.called_number,
            started_at=recording.started_at,
            duration=_wav_seconds(data) if recording.format == "wav" else reported,
            size_bytes=len(data))
        location = await recording.sink.store(path, metadata)
        with contextlib.suppress(AriError):  # the sink has it: free Asterisk's disk
            await self._client.recordings.delete_stored(recording.name)
        stored = self.stored[recording.name] = dataclasses.replace(metadata, location=location)
        return stored


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _wav_seconds(data: bytes) -> float | None:
    try:
        with wave.open(io.BytesIO(data)) as audio:
            return float(audio.getnframes()) / float(audio.getframerate())
    except (wave.Error, EOFError):
        return None
