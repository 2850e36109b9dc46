"""Build and cache a Debian sid root file system holding Debian's Asterisk packages.

Debian 12 has no ``asterisk`` package; Debian sid does. Installing sid packages
into the host would pull in a newer libc, so the sandbox keeps them in a
separate root file system made by ``debootstrap`` and runs Asterisk there with
``chroot``. The root is built once and reused (about 45 s and 500 MB).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
import time
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

log = logging.getLogger(__name__)


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
        log.info("building the sandbox root in %s (once: about a minute, 500 MB)", root)
        returncode, output = _run_showing_phases(command)
        if returncode != 0:
            tail = "\n".join(output[-15:])
            raise SandboxError(
                f"debootstrap failed (exit {returncode}) building {partial}:\n{tail}\n"
                "Check that the Debian mirror is reachable (set VOXTRA_DEBIAN_MIRROR to pick "
                "another) and that the disk has 1 GB free."
            )
        _own_ids(partial, "asterisk")
        (partial / _READY_MARKER).write_text(" ".join(PACKAGES) + "\n")
        partial.rename(root)
    return root


#: debootstrap's progress lines worth showing (it prints one per package besides).
_PHASES = re.compile(r"^I: (Retrieving Release|Retrieving Packages|Resolving|Retrieving "
                     r"required|Extracting|Installing core|Unpacking the base|Configuring "
                     r"the base|Base system installed)")
#: Where the sandbox's own user and group ids are taken from: above what Debian gives
#: to system and human accounts, below nobody (65534).
_OWN_IDS = range(64990, 64000, -1)


def _run_showing_phases(command: list[str]) -> tuple[int, list[str]]:
    """Run ``command``, logging its phases as they come; its exit code and output."""
    began = time.monotonic()
    output: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            if _PHASES.match(line):
                log.info("sandbox build, %3.0f s: %s", time.monotonic() - began,
                         line[3:].strip())
    return process.returncode, output


def _own_ids(root: Path, user: str) -> None:
    """Give ``user`` of ``root`` a user and group id that no account of the host has:
    the chrooted process runs with the root's ids, and one the host gives to another
    account (postgres, say) would let each touch the other's processes and files."""
    import grp
    import pwd

    passwd, group = root / "etc" / "passwd", root / "etc" / "group"
    entry = next((line.split(":") for line in passwd.read_text().splitlines()
                  if line.startswith(f"{user}:")), None)
    if entry is None:
        return
    uid, gid = int(entry[2]), int(entry[3])
    host = {p.pw_uid for p in pwd.getpwall()} | {g.gr_gid for g in grp.getgrall()}
    if uid not in host and gid not in host:
        return
    inside = {int(line.split(":")[2]) for f in (passwd, group)
              for line in f.read_text().splitlines() if line.count(":") >= 3}
    new = next(i for i in _OWN_IDS if i not in host | inside)
    passwd.write_text("".join(
        f"{user}:{fields[1]}:{new}:{new}:{':'.join(fields[4:])}\n"
        if (fields := line.split(":"))[0] == user else line + "\n"
        for line in passwd.read_text().splitlines()))
    group.write_text("".join(
        f"{fields[0]}:{fields[1]}:{new}:{fields[3]}\n"
        if (fields := line.split(":"))[0] == user else line + "\n"
        for line in group.read_text().splitlines()))
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(directory, d))]
        for name in (*dirs, *files):
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if info.st_uid == uid or info.st_gid == gid:
                os.lchown(path, new if info.st_uid == uid else -1,
                          new if info.st_gid == gid else -1)
    log.info("sandbox user %s has ids %d:%d (the host's %d:%d belong to others)",
             user, new, new, uid, gid)


def _check_can_build() -> None:
    if os.geteuid() != 0:
        raise SandboxError(
            "building the sandbox needs root (debootstrap and chroot): run the command with sudo"
        )
    if shutil.which("debootstrap") is None:
        raise SandboxError(
            "debootstrap is not installed; install it with: sudo apt-get install -y debootstrap"
        )
