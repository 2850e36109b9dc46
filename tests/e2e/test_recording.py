"""Recordings: the caller's audio, fetched after Asterisk finishes it, in every sink.

Protocol facts relied on: ``POST /channels/{id}/record`` records what the
caller sends; ``RecordingFinished`` carries the recording name we chose; the
stored file is served by ``GET /recordings/stored/{name}/file``. GCS: the JSON
API of ``google-cloud-storage`` as served by ``gcp-storage-emulator``.
"""

from __future__ import annotations

import asyncio
import io
import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from voxtra.app import VoxtraApp
from voxtra.call.session import CallSession
from voxtra.recording import GCSSink, LocalFileSink, RecordingMetadata
from voxtra.retry import Backoff
from voxtra.sandbox.audio import dominant_frequency, tone, write_ulaw_wav
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.services.gcs import StorageEmulator


def wav_audio(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as audio:
        frames = audio.readframes(audio.getnframes())
        return np.frombuffer(frames, dtype=np.int16), audio.getframerate()


class CountingSink(LocalFileSink):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.stored: list[RecordingMetadata] = []

    async def store(self, path: Path, metadata: RecordingMetadata) -> str:
        self.stored.append(metadata)
        return await super().store(path, metadata)


@pytest.fixture
def caller_wav(tmp_path: Path) -> Path:
    return write_ulaw_wav(tmp_path / "caller.wav", tone(440, 4.0))


@pytest.fixture
def settings(voxtra_settings: VoxtraSettings, tmp_path: Path) -> VoxtraSettings:
    return voxtra_settings.model_copy(update={"recordings_dir": tmp_path / "recordings"})


async def test_recording_lands_in_the_local_sink(settings: VoxtraSettings,
                                                 sip_caller: SipCaller,
                                                 caller_wav: Path) -> None:
    results: list[RecordingMetadata] = []
    window: dict[str, float] = {}
    app = VoxtraApp(settings)

    @app.route()
    async def record(call: CallSession) -> None:
        await call.answer()
        loop = asyncio.get_running_loop()
        asked = loop.time()
        await call.record_start("local-test")
        started = loop.time()
        await asyncio.sleep(2.0)
        stopping = loop.time()
        name = await call.record_stop()
        window.update(whole=loop.time() - asked, running=stopping - started)
        results.append(call.recordings[name or ""])

    async with app:
        caller = await sip_caller.call(CallerScript("900", audio=caller_wav))
        stored = {r.name for r in await app.client.recordings.list_stored()}
    assert caller.succeeded, caller.stderr
    meta = results[0]
    assert meta.location == str(settings.recordings_dir / "local-test.wav")
    # No longer than from asking for the recording to its stop's return (Asterisk records
    # in real time), and more than half of the time it was running before the stop was
    # asked for (a file fetched before Asterisk finished writing it is cut short).
    assert meta.duration is not None
    assert window["running"] / 2 <= meta.duration <= window["whole"], (meta.duration, window)
    data = await asyncio.to_thread(Path(meta.location).read_bytes)
    pcm, rate = wav_audio(data)
    assert abs(dominant_frequency(pcm, rate) - 440) < 10  # the caller's tone
    assert meta.size_bytes == len(data)
    assert "local-test" not in stored  # Asterisk's copy is freed once the sink has it


async def test_recording_survives_the_caller_hanging_up(settings: VoxtraSettings,
                                                        sip_caller: SipCaller,
                                                        caller_wav: Path,
                                                        tmp_path: Path) -> None:
    sink = CountingSink(tmp_path / "kept")
    ended = asyncio.Event()
    times: dict[str, float] = {}
    app = VoxtraApp(settings)

    def hung_up() -> None:
        times["ended"] = asyncio.get_running_loop().time()
        ended.set()

    @app.route()
    async def record_until_hangup(call: CallSession) -> None:
        call.on_hangup(hung_up)
        await call.answer()
        times["asked"] = asyncio.get_running_loop().time()
        await call.record_start("hangup-test", sink=sink)
        times["started"] = asyncio.get_running_loop().time()
        await call.wait_ended()

    async with app:
        caller = await sip_caller.call(CallerScript("901", audio=caller_wav,
                                                    hangup_after=3.0))
        await asyncio.wait_for(ended.wait(), 15)
    assert caller.succeeded, caller.stderr
    assert [m.name for m in sink.stored] == ["hangup-test"]  # exactly once
    pcm, rate = wav_audio((tmp_path / "kept" / "hangup-test.wav").read_bytes())
    seconds = len(pcm) / rate
    # The caller's tone up to the hangup: no longer than from asking for the recording
    # to the app hearing of the hangup, more than half of the time it was running.
    assert abs(dominant_frequency(pcm, rate) - 440) < 10
    assert (times["ended"] - times["started"]) / 2 <= seconds <= times["ended"] - times["asked"], \
        (seconds, times)


async def test_recording_uploads_to_gcs(settings: VoxtraSettings, sip_caller: SipCaller,
                                        caller_wav: Path) -> None:
    with StorageEmulator() as gcs:
        client = gcs.client()
        client.create_bucket("calls")
        sink = GCSSink("calls", prefix="2026/11", client=client)
        results: list[RecordingMetadata] = []
        app = VoxtraApp(settings)

        @app.route()
        async def record(call: CallSession) -> None:
            await call.answer()
            await call.record_start("gcs-test", sink=sink)
            await asyncio.sleep(1.5)
            name = await call.record_stop()
            results.append(call.recordings[name or ""])

        async with app:
            caller = await sip_caller.call(CallerScript("902", audio=caller_wav))
        blob = client.bucket("calls").get_blob("2026/11/gcs-test.wav")
        data = blob.download_as_bytes()
    assert caller.succeeded, caller.stderr
    assert results[0].location == "gs://calls/2026/11/gcs-test.wav"
    assert blob.metadata["call_id"] == results[0].call_id
    pcm, rate = wav_audio(data)
    assert abs(dominant_frequency(pcm, rate) - 440) < 10
    assert not (settings.recordings_dir / ".incoming" / "gcs-test.wav").exists()


async def test_failed_upload_is_retried_and_the_file_kept(tmp_path: Path) -> None:
    emulator = StorageEmulator()  # not started yet: uploads fail
    sink = GCSSink("late", client=emulator.client(), backoff=Backoff(base=0.2, cap=0.4))
    path = write_ulaw_wav(tmp_path / "late.wav", tone(300, 0.5))
    meta = RecordingMetadata("late", "wav", "c1", "100", "200", datetime.now(UTC), 0.5,
                             len(tone(300, 0.5)))
    upload = asyncio.create_task(sink.store(path, meta))
    await asyncio.sleep(1.0)
    assert not upload.done() and sink.attempts >= 2 and path.exists()
    await asyncio.to_thread(emulator.start)
    try:
        emulator.client().create_bucket("late")
        location = await asyncio.wait_for(upload, 20)
        assert location == "gs://late/late.wav"
        assert not path.exists()  # deleted only after a verified upload
        assert emulator.client().bucket("late").get_blob("late.wav").size > 0
    finally:
        emulator.stop()


async def test_the_app_wide_sink_and_record_stop_as_the_reference_has_it(
        settings: VoxtraSettings, sip_caller: SipCaller, caller_wav: Path,
        tmp_path: Path) -> None:
    sink = CountingSink(tmp_path / "app-wide")
    app = VoxtraApp(settings, recording_sink=sink)
    stops: list[str | None] = []

    @app.route()
    async def record(call: CallSession) -> None:
        await call.answer()
        stops.append(await call.record_stop())  # nothing recording yet
        await call.record_start("app-wide-test")
        await asyncio.sleep(1.0)
        stops.append(await call.record_stop())
        stops.append(await call.record_stop())  # stopped already

    async with app:
        caller = await sip_caller.call(CallerScript("903", audio=caller_wav))
    assert caller.succeeded, caller.stderr
    assert stops == [None, "app-wide-test", None]
    assert [m.name for m in sink.stored] == ["app-wide-test"]
    assert (tmp_path / "app-wide" / "app-wide-test.wav").stat().st_size > 8000


class SlowSink(CountingSink):
    """A sink that takes a second to store (an upload)."""

    async def store(self, path: Path, metadata: RecordingMetadata) -> str:
        await asyncio.sleep(1.0)
        return await super().store(path, metadata)


async def test_stopping_the_app_delivers_the_recordings_of_its_calls_first(
        settings: VoxtraSettings, sip_caller: SipCaller, caller_wav: Path,
        tmp_path: Path) -> None:
    sink = SlowSink(tmp_path / "slow")
    app = VoxtraApp(settings.model_copy(update={"shutdown_grace": 0.5}), recording_sink=sink)
    recording = asyncio.Event()

    @app.route()
    async def record(call: CallSession) -> None:
        await call.answer()
        await call.record_start("shutdown-test")
        recording.set()
        await asyncio.sleep(3600)

    await app.start()
    caller = asyncio.create_task(sip_caller.call(CallerScript("904", audio=caller_wav)))
    await asyncio.wait_for(recording.wait(), 10)
    await asyncio.sleep(1.0)
    await app.stop()  # the handler never returns: the app hangs the call up
    stored = [m.name for m in sink.stored]  # as stop() returned
    result = await caller
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert stored == ["shutdown-test"]
    assert (tmp_path / "slow" / "shutdown-test.wav").stat().st_size > 4000
