"""Build and cache a Debian sid root file system holding Debian's Asterisk packages.

Debian 12 has no ``asterisk`` package; Debian sid does. Installing sid packages
into the host would pull in a newer libc, so the sandbox keeps them in a
separate root file system made by ``debootstrap`` and runs Asterisk there with
``chroot``. The root is built once and reused (about 45 s and 500 MB).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

from voxtra.sandbox.errors import SandboxError

#: The Debian packages that the sandbox root and the Docker image install.
PACKAGES = (
    "asterisk",
    "asterisk-modules",
    "asterisk-core-sounds-en-gsm",
    "asterisk-moh-opsound-gsm",
)
_READY_MARKER = ".voxtra-root-ready"


def default_root() -> Path:
    """``$VOXTRA_SANDBOX_ROOT``, else ``$XDG_CACHE_HOME/voxtra/asterisk-sid``."""
    if env := os.environ.get("VOXTRA_SANDBOX_ROOT"):
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "voxtra" / "asterisk-sid"


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (or ``$VOXTRA_DEBIAN_MIRROR``)."""
    if env := os.environ.get("VOXTRA_DEBIAN_MIRROR"):
        return env
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        for match in re.finditer(r"^URIs:\s*(\S+)", sources.read_text(), re.MULTILINE):
            if "security" not in match.group(1):
                return match.group(1)
    legacy = Path("/etc/apt/sources.list")
    if legacy.is_file():
        for match in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", legacy.read_text(), re.M):
            if "security" not in match.group(1):
                return match.group(1)
    raise SandboxError(
        "cannot tell which Debian mirror to use: no URIs in /etc/apt/sources.list.d/"
        "debian.sources or /etc/apt/sources.list; set VOXTRA_DEBIAN_MIRROR to a Debian mirror URL"
    )


def is_ready(root: Path) -> bool:
    return (root / _READY_MARKER).is_file()


def ensure_root(root: Path | None = None) -> Path:
    """Return a ready root file system, building it first if needed.

    Concurrent callers wait on a lock file; a half-built root (an interrupted
    build) is thrown away and built again.
    """
    root = root or default_root()
    if is_ready(root):
        return root
    _check_can_build()
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(root):
            return root
        partial = root.with_name(root.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
        command = [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(PACKAGES),
            "sid",
            str(partial),
            debian_mirror(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise SandboxError(
                f"debootstrap failed (exit {result.returncode}) building {partial}:\n{tail}\n"
                "Check that the Debian mirror is reachable (set VOXTRA_DEBIAN_MIRROR to pick "
                "another) and that the disk has 1 GB free."
            )
        (partial / _READY_MARKER).write_text(" ".join(PACKAGES) + "\n")
        partial.rename(root)
    return root


def _check_can_build() -> None:
    if os.geteuid() != 0:
        raise SandboxError(
            "building the sandbox needs root (debootstrap and chroot): run the command with sudo"
        )
    if shutil.which("debootstrap") is None:
        raise SandboxError(
            "debootstrap is not installed; install it with: sudo apt-get install -y debootstrap"
        )
