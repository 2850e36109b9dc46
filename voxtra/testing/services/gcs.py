"""A local Google Cloud Storage for tests: ``gcp-storage-emulator`` as a subprocess.

The real ``google-cloud-storage`` client talks to it over the JSON API (uploads
to ``/upload/storage/v1/b/{bucket}/o``, reads from ``/storage/v1/b/...``) when
its ``api_endpoint`` points at the emulator.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import Any

from voxtra.sandbox.ports import free_port


class StorageEmulator:
    """``with StorageEmulator() as gcs: client = gcs.client()``."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port(socket.SOCK_STREAM)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> StorageEmulator:
        command = shutil.which("gcp-storage-emulator") or sys.executable
        args = [] if command != sys.executable else ["-m", "gcp_storage_emulator"]
        self._process = subprocess.Popen(
            [command, *args, "start", "--host", "127.0.0.1", "--port", str(self.port),
             "--in-memory"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gcp-storage-emulator did not listen on {self.url}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None

    def client(self) -> Any:
        """A real ``google.cloud.storage.Client`` talking to this emulator."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
        return storage.Client(project="voxtra-test", credentials=anonymous,
                              client_options={"api_endpoint": self.url})

    def __enter__(self) -> StorageEmulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
