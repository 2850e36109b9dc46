"""Recording sinks.

A sink receives each finished recording exactly once, as a local file (fetched
from Asterisk after ``RecordingFinished``) with its :class:`RecordingMetadata`,
and returns where it put it. A sink that cannot store a file keeps it where it
is and says so; no recording is thrown away on a failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voxtra.recording.errors import RecordingSinkError
from voxtra.retry import Backoff

if TYPE_CHECKING:
    from google.cloud.storage import Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingMetadata:
    name: str
    format: str
    call_id: str
    caller_id: str
    called_number: str
    started_at: datetime
    #: Seconds of audio (from the WAV header for ``wav``, else as Asterisk reports).
    duration: float | None
    size_bytes: int
    #: Where the sink put it (a path or a URI); empty until stored.
    location: str = ""


class RecordingSink(ABC):
    @abstractmethod
    async def store(self, path: Path, metadata: RecordingMetadata) -> str:
        """Take the recording at ``path``; return its new location (path or URI)."""


class LocalFileSink(RecordingSink):
    """Moves recordings into ``directory`` (created if needed)."""

    def __init__(self, directory: str | Path = "recordings") -> None:
        self.directory = Path(directory)

    async def store(self, path: Path, metadata: RecordingMetadata) -> str:
        target = self.directory / path.name
        await asyncio.to_thread(self._move, path, target)
        return str(target)

    @staticmethod
    def _move(source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() != target.resolve():
            shutil.move(str(source), target)


class GCSSink(RecordingSink):
    """Uploads recordings to a Google Cloud Storage bucket (``pip install voxtra-asterisk[gcs]``).

    A failed upload is retried with capped, jittered backoff for up to
    ``give_up_after`` seconds; the local file is deleted only once the object's
    size in the bucket matches it. Blob metadata carries the call's details.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Client | None = None,
                 backoff: Backoff | None = None, give_up_after: float = 3600.0,
                 timeout: float = 60.0) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client
        self.backoff = backoff or Backoff(base=1.0, cap=60.0)
        self.give_up_after = give_up_after
        self.timeout = timeout
        self.attempts = 0

    @property
    def client(self) -> Client:
        if self._client is None:
            from google.cloud import storage

            self._client = storage.Client()
        return self._client

    async def store(self, path: Path, metadata: RecordingMetadata) -> str:
        name = f"{self.prefix}/{path.name}" if self.prefix else path.name
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.give_up_after
        attempt = 0
        while True:
            self.attempts += 1
            try:
                await asyncio.to_thread(self._upload, path, name, metadata)
                break
            except Exception as exc:
                delay = self.backoff.delay(attempt)
                attempt += 1
                if loop.time() + delay > deadline:
                    raise RecordingSinkError(
                        f"upload of {path.name} to gs://{self.bucket} failed {attempt} times "
                        f"({exc})", path) from exc
                log.warning("upload of %s to gs://%s failed (%s); retry in %.1f s",
                            path.name, self.bucket, exc, delay)
                await asyncio.sleep(delay)
        os.unlink(path)
        return f"gs://{self.bucket}/{name}"

    def _upload(self, path: Path, name: str, metadata: RecordingMetadata) -> None:
        blob = self.client.bucket(self.bucket).blob(name)
        blob.metadata = _blob_metadata(metadata)
        # The client's own retries would hide failures for minutes: ours decide.
        blob.upload_from_filename(str(path), content_type=_content_type(metadata.format),
                                  retry=None, timeout=self.timeout)
        blob.reload(retry=None, timeout=self.timeout)
        if blob.size != path.stat().st_size:
            raise OSError(f"uploaded size {blob.size} != local size {path.stat().st_size}")


def _blob_metadata(metadata: RecordingMetadata) -> dict[str, Any]:
    return {"call_id": metadata.call_id, "caller_id": metadata.caller_id,
            "called_number": metadata.called_number,
            "started_at": metadata.started_at.isoformat(),
            "duration": "" if metadata.duration is None else f"{metadata.duration:.3f}"}


def _content_type(fmt: str) -> str:
    return {"wav": "audio/wav", "gsm": "audio/gsm", "ulaw": "audio/basic",
            "sln": "audio/L16"}.get(fmt, "application/octet-stream")
