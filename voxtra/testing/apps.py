"""Voxtra apps run as processes of their own, as users run them: for tests that kill,
restart or signal the app itself."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import ClassVar

from voxtra.settings import VoxtraSettings

#: A line of an app's output that reports an error: a log record at ERROR or CRITICAL,
#: or a traceback.
_ERROR_LINE = re.compile(rb"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)")


class AppProcess:
    """One app script, connected to the Asterisk of ``settings``; its output (stdout and
    stderr) is read line by line as the test waits for it."""

    #: Every app process started in this Python process, in order (the pytest plugin
    #: fails a test whose apps reported errors).
    started: ClassVar[list[AppProcess]] = []

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        #: Every line read so far.
        self.lines: list[bytes] = []
        AppProcess.started.append(self)

    def errors(self) -> list[str]:
        """The lines read so far that report an error."""
        return [line.decode(errors="replace").rstrip() for line in self.lines
                if _ERROR_LINE.search(line)]

    @classmethod
    async def start(cls, script: Path, settings: VoxtraSettings, **env: str) -> AppProcess:
        """Run ``script`` with the settings as ``VOXTRA_*`` variables (and ``env``)."""
        variables = dict(os.environ, VOXTRA_ARI_URL=settings.ari_url,
                         VOXTRA_ARI_USER=settings.ari_user,
                         VOXTRA_ARI_PASSWORD=settings.ari_password.get_secret_value(),
                         VOXTRA_APP_NAME=settings.app_name, **env)
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(script), env=variables, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        return cls(process)

    async def wait_for(self, text: bytes, timeout: float = 15.0) -> bytes:
        """The next line holding ``text``; AssertionError if the process ends or
        ``timeout`` passes first."""
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                while line := await self.process.stdout.readline():
                    self.lines.append(line)
                    if text in line:
                        return line
        except TimeoutError:
            pass
        tail = b"".join(self.lines[-20:]).decode(errors="replace")
        raise AssertionError(f"the app never printed {text!r}; its last lines:\n{tail}")

    async def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as in a crash."""
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, and wait for the exit; the exit status."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.exited(timeout)

    async def exited(self, timeout: float = 15.0) -> int:
        """Wait for the process to end by itself (reading the rest of its output); the
        exit status."""
        assert self.process.stdout is not None
        rest = await asyncio.wait_for(self.process.stdout.read(), timeout)
        self.lines.extend(rest.splitlines(keepends=True))
        return await asyncio.wait_for(self.process.wait(), timeout)
