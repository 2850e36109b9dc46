"""A throwaway PostgreSQL cluster for tests of the shared campaign store: Debian's server
binaries, a data directory of its own, a free loopback port, trust authentication for
loopback connections only, removed when stopped. PostgreSQL refuses to run as root: as
root it runs as the ``postgres`` user the Debian package makes."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from voxtra.sandbox.errors import SandboxError
from voxtra.sandbox.ports import free_port


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or \
        [p for p in [shutil.which(name)] if p]
    if not found:
        raise SandboxError(f"PostgreSQL's {name} is not installed: sudo apt-get install -y "
                           "postgresql")
    return found[-1]


class ThrowawayPostgres:
    """``with ThrowawayPostgres() as dsn:`` a database to connect to."""

    def __init__(self) -> None:
        self.port = free_port()
        self._directory = Path(tempfile.mkdtemp(prefix="voxtra-postgres-"))
        self._data = self._directory / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self._directory, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self._as, *command], capture_output=True, text=True,
                                timeout=60, check=False)
        if result.returncode != 0:
            raise SandboxError(f"{Path(command[0]).name} failed: {result.stderr[-800:]}")

    def start(self) -> str:
        self._run(_binary("initdb"), "-D", str(self._data), "-U", "postgres",
                  "--auth=trust", "--no-sync", "-E", "UTF8")
        self._run(_binary("pg_ctl"), "-D", str(self._data), "-w", "-l",
                  str(self._directory / "log"), "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self._directory} "
                  "-c fsync=off", "start")
        return self.dsn

    def stop(self) -> None:
        try:
            if (self._data / "postmaster.pid").exists():
                self._run(_binary("pg_ctl"), "-D", str(self._data), "-m", "immediate", "-w",
                          "stop")
        finally:
            shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
