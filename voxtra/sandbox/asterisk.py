"""A real Asterisk 22 for tests and local development, with no Docker engine.

``AsteriskSandbox`` renders ``asterisk-conf/`` into an instance directory of a
cached Debian sid root file system (see :mod:`voxtra.sandbox.rootfs`), runs
Debian's Asterisk there with ``chroot``, waits until ARI answers and stops it
cleanly by pid. Several named instances can run side by side on other ports.

The ``plain`` profile stands for somebody else's Asterisk instead: Debian's stock
configuration with only an endpoint, ``Stasis(app)`` and ARI added
(``plain-asterisk/``), and the package's spool directories only.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from voxtra.asterisk.conf import AsteriskConf, AsteriskConfError, render
from voxtra.files import write_atomically
from voxtra.sandbox import rootfs
from voxtra.sandbox.errors import SandboxError

#: Where instances live inside the root file system.
INSTANCES = "/var/lib/voxtra-sandbox"
#: What the plain profile lays over Debian's stock configuration.
PLAIN_TEMPLATES = Path(__file__).resolve().parent / "plain-asterisk"


@dataclass(frozen=True)
class SandboxOptions:
    """Ports, credentials and names of one sandbox instance."""

    name: str = "default"
    ari_port: int = 18088
    sip_port: int = 15060
    rtp_start: int = 30000
    rtp_end: int = 30999
    ari_user: str = "voxtra"
    #: Generated afresh for every start when not given.
    ari_password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    app_name: str = "voxtra"
    queue_agent_uri: str = "sip:agent@127.0.0.1:15099"
    bind: str = "127.0.0.1"
    #: "voxtra" (the bundled asterisk-conf/) or "plain" (stock Debian, see the module).
    profile: str = "voxtra"
    #: SIP over TLS and ARI over HTTPS with this PEM certificate and key (host paths,
    #: copied into the instance); None: neither.
    tls_cert: str | None = None
    tls_key: str | None = None
    #: The CA (PEM) that vouches for this instance's certificate and for the TLS peers
    #: it calls.
    tls_ca: str | None = None
    sip_tls_port: int = 15061
    ari_tls_port: int = 18089
    #: Address of the peer calling in over TLS with SRTP (pjsip.conf's tls-peer).
    sip_tls_peer: str = ""


@dataclass(frozen=True)
class SandboxState:
    """What a running instance needs to be found again, kept in ``state.json`` (mode 0600)."""

    pid: int
    root: str
    ari_url: str
    ari_user: str
    ari_password: str = field(repr=False)
    app_name: str = "voxtra"
    sip_host: str = "127.0.0.1"
    sip_port: int = 15060
    rtp_start: int = 30000
    rtp_end: int = 30999
    #: The CA that vouches for ARI's certificate when ``ari_url`` is https.
    ari_ca_file: str | None = None
    #: The SIP TLS port, when TLS is on.
    sip_tls_port: int | None = None


def stored_password(name: str, root: Path | None = None) -> str:
    """The ARI password of the sandbox instance ``name``: made once, then kept (mode
    0600) beside the root file system, so an app keeps working across restarts."""
    path = (root or rootfs.default_root()).parent / f"sandbox-{name}.password"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
        return password


class AsteriskSandbox:
    """One Asterisk instance inside the cached root file system."""

    def __init__(self, options: SandboxOptions | None = None, root: Path | None = None) -> None:
        self.options = options or SandboxOptions()
        self.root = root or rootfs.default_root()
        self.instance = Path(INSTANCES) / self.options.name
        #: Set by :meth:`start`.
        self.current: SandboxState | None = None

    # Paths -----------------------------------------------------------------

    def host_path(self, inside: str | Path) -> Path:
        """The host path of a path inside the root file system."""
        return self.root / str(inside).lstrip("/")

    @property
    def state_file(self) -> Path:
        return self.host_path(self.instance / "state.json")

    @property
    def log_file(self) -> Path:
        return self.host_path(self.instance / "log" / "messages.log")

    # Lifecycle -------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> SandboxState:
        """Build the root if needed, render the configuration, start Asterisk, wait for ARI."""
        current = self.state()
        if current is not None:
            raise SandboxError(
                f"sandbox {self.options.name!r} is already running (pid {current.pid}); "
                "stop it first with: voxtra sandbox down"
                + ("" if self.options.name == "default" else f" --name {self.options.name}")
            )
        opts = self.options
        self._check_ports_free()
        rootfs.ensure_root(self.root)
        conf = self._conf()
        try:
            conf.validate()
        except AsteriskConfError as exc:
            raise SandboxError(str(exc)) from None
        instance = self.host_path(self.instance)
        shutil.rmtree(instance, ignore_errors=True)
        self._install_tls_files()
        etc = self.host_path(conf.etc_dir)
        if opts.profile == "plain":
            shutil.copytree(self.host_path("/etc/asterisk"), etc)
            render(conf, etc, PLAIN_TEMPLATES)
            # The package's spool directories, empty: no spool/recording.
            stock = self.host_path("/var/spool/asterisk")
            for found in [stock, *stock.iterdir()]:
                if found.is_dir():
                    spool = self.host_path(conf.spool_dir) / found.relative_to(stock)
                    spool.mkdir(parents=True, exist_ok=True)
            directories = [conf.run_dir, conf.log_dir, conf.varlib_dir, conf.cache_dir]
        else:
            render(conf, etc)
            # Asterisk writes into these but does not create them (ARI recording answers
            # 500 without spool/recording).
            directories = [conf.run_dir, conf.log_dir, conf.varlib_dir, conf.cache_dir,
                           f"{conf.spool_dir}/recording", f"{conf.spool_dir}/tmp"]
        for directory in directories:
            self.host_path(directory).mkdir(parents=True, exist_ok=True)
        uid, gid = self._asterisk_ids()
        for path in [instance, *instance.rglob("*")]:
            os.chown(path, uid, gid)
        output = open(instance / "asterisk.out", "wb")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            ["chroot", str(self.root), "asterisk", "-f", "-n", "-C",
             f"{conf.etc_dir}/asterisk.conf", "-U", "asterisk", "-G", "asterisk"],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        output.close()
        tls = opts.tls_cert is not None
        ari_url = (f"https://{opts.bind}:{opts.ari_tls_port}" if tls
                   else f"http://{opts.bind}:{opts.ari_port}")
        state = SandboxState(
            pid=process.pid, root=str(self.root), ari_url=ari_url, ari_user=opts.ari_user,
            ari_password=opts.ari_password, app_name=opts.app_name, sip_host=opts.bind,
            sip_port=opts.sip_port, rtp_start=opts.rtp_start, rtp_end=opts.rtp_end,
            ari_ca_file=opts.tls_ca if tls else None,
            sip_tls_port=opts.sip_tls_port if tls else None,
        )
        fd = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(state), handle)
        try:
            self._wait_for_ari(state, process, timeout)
            # ARI answers before every module is loaded: SIP may not listen yet.
            self.cli("core waitfullybooted", timeout=timeout)
        except BaseException:
            self.stop()
            raise
        self.current = state
        return state

    def stop(self, timeout: float = 15.0, keep_files: bool = False) -> bool:
        """Stop the instance: ``core stop now``, then SIGTERM, then SIGKILL by pid.

        Returns whether an Asterisk was running. The instance directory (its
        configuration, logs and recordings) is removed unless ``keep_files``.
        """
        state = self.state()
        self.state_file.unlink(missing_ok=True)
        self.current = None
        if state is None:
            return False
        subprocess.run(
            ["chroot", state.root, "asterisk", "-C", f"{self.instance}/etc/asterisk.conf",
             "-rx", "core stop now"],
            capture_output=True, timeout=timeout, check=False,
        )
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and _is_asterisk(state.pid):
                os.kill(state.pid, sig)
            if _wait_gone(state.pid, timeout if sig is None else 5.0):
                if not keep_files:
                    shutil.rmtree(self.host_path(self.instance), ignore_errors=True)
                return True
        raise SandboxError(f"Asterisk (pid {state.pid}) did not exit after SIGKILL")

    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run an Asterisk CLI command in the running instance; its output."""
        done = subprocess.run(
            ["chroot", str(self.root), "asterisk", "-C", f"{self.instance}/etc/asterisk.conf",
             "-rx", command], capture_output=True, timeout=timeout, check=False)
        return done.stdout.decode(errors="replace")

    def state(self) -> SandboxState | None:
        """The running instance's state, or None (a stale state file is removed)."""
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text())
            state = SandboxState(**data)
        except (OSError, ValueError, TypeError):
            return None
        if not _is_asterisk(state.pid):
            self.state_file.unlink(missing_ok=True)
            return None
        return state

    def ari_ready(self, state: SandboxState) -> bool:
        """Whether ``GET /ari/asterisk/info`` answers 200 with these credentials."""
        try:
            return _ari_info_status(state) == 200
        except OSError:
            return False

    # Internals -------------------------------------------------------------

    def _conf(self) -> AsteriskConf:
        opts = self.options
        base = str(self.instance)
        tls: dict[str, Any] = {}
        if opts.tls_cert is not None:
            cert, key, ca = (f"{base}/tls/{name}" for name in ("cert.pem", "key.pem", "ca.pem"))
            tls = dict(sip_tls_cert=cert, sip_tls_key=key, sip_tls_ca=ca,
                       sip_tls_port=opts.sip_tls_port, sip_tls_peer=opts.sip_tls_peer,
                       ari_tls_cert=cert, ari_tls_key=key, ari_tls_port=opts.ari_tls_port)
        return AsteriskConf(
            ari_password=opts.ari_password, ari_user=opts.ari_user, ari_bind=opts.bind,
            ari_port=opts.ari_port, sip_bind=opts.bind, sip_port=opts.sip_port,
            rtp_start=opts.rtp_start, rtp_end=opts.rtp_end, app_name=opts.app_name,
            queue_agent_uri=opts.queue_agent_uri, system_name=f"voxtra-{opts.name}",
            etc_dir=f"{base}/etc", run_dir=f"{base}/run", spool_dir=f"{base}/spool",
            log_dir=f"{base}/log", varlib_dir=f"{base}/lib", cache_dir=f"{base}/cache",
            **tls,
        )

    def _install_tls_files(self) -> None:
        """Copy the certificate, key (mode 0600) and CA into the instance's ``tls/``."""
        opts = self.options
        if opts.tls_cert is None:
            return
        if opts.tls_key is None or opts.tls_ca is None:
            raise SandboxError("tls_cert needs tls_key and tls_ca (PEM files)")
        directory = self.host_path(self.instance / "tls")
        directory.mkdir(parents=True)
        for source, name in ((opts.tls_cert, "cert.pem"), (opts.tls_key, "key.pem"),
                             (opts.tls_ca, "ca.pem")):
            try:
                write_atomically(directory / name, Path(source).read_bytes(),
                                 0o600 if name == "key.pem" else 0o644)
            except OSError as exc:
                raise SandboxError(f"cannot copy {source} into the sandbox: {exc.strerror}") \
                    from None

    def _check_ports_free(self, wait: float = 3.0) -> None:
        """Raise if ARI's or SIP's port is taken, after ``wait`` seconds of retrying (the
        connections of an Asterisk that just died take a moment to let go)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return self._check_ports_free_now()
            except SandboxError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _check_ports_free_now(self) -> None:
        opts = self.options
        ports = [("ARI (TCP)", opts.ari_port), ("SIP (UDP)", opts.sip_port)]
        if opts.tls_cert is not None:
            ports += [("ARI (TCP, TLS)", opts.ari_tls_port), ("SIP (TCP, TLS)", opts.sip_tls_port)]
        for kind, port in ports:
            sock_type = socket.SOCK_STREAM if "TCP" in kind else socket.SOCK_DGRAM
            with socket.socket(socket.AF_INET, sock_type) as sock:
                if sock_type == socket.SOCK_STREAM:
                    # Connections in TIME_WAIT do not stop Asterisk from listening.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((opts.bind, port))
                except OSError:
                    proto = "tcp" if sock_type == socket.SOCK_STREAM else "udp"
                    raise SandboxError(
                        f"{kind} port {opts.bind}:{port} is already in use. Pick another "
                        f"port (voxtra sandbox up --{kind[:3].lower()}-port N) or find what "
                        f"holds it: ss -lnp{proto[0]} 'sport = :{port}'"
                    ) from None

    def _asterisk_ids(self) -> tuple[int, int]:
        for line in self.host_path("/etc/passwd").read_text().splitlines():
            parts = line.split(":")
            if parts[0] == "asterisk":
                return int(parts[2]), int(parts[3])
        raise SandboxError(f"no asterisk user in {self.root}/etc/passwd; delete {self.root} "
                           "so that the sandbox root is built again")

    def _wait_for_ari(self, state: SandboxState, process: subprocess.Popen[bytes],
                      timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SandboxError(
                    f"Asterisk exited with status {process.returncode} while starting:\n"
                    + self._output_tail()
                )
            try:
                status = _ari_info_status(state)
            except OSError:
                status = None
            if status == 200:
                return
            if status in (401, 403):
                raise SandboxError("ARI rejected the sandbox's own credentials (HTTP "
                                   f"{status}); see {self.log_file}")
            time.sleep(0.2)
        raise SandboxError(f"ARI did not answer at {state.ari_url} within {timeout:.0f} s:\n"
                           + self._output_tail())

    def _output_tail(self, lines: int = 20) -> str:
        out = self.host_path(self.instance / "asterisk.out")
        try:
            return "\n".join(out.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"


def _ari_info_status(state: SandboxState) -> int:
    token = base64.b64encode(f"{state.ari_user}:{state.ari_password}".encode()).decode()
    request = urllib.request.Request(
        f"{state.ari_url}/ari/asterisk/info", headers={"Authorization": f"Basic {token}"}
    )
    context = (ssl.create_default_context(cafile=state.ari_ca_file)
               if state.ari_url.startswith("https:") else None)
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _is_asterisk(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"asterisk" in cmdline


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        if not _is_asterisk(pid):
            # Exiting (its command line is gone first): if it is our child, reap it
            # now, or its pid stays taken by a zombie.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
