"""Render the bundled ``asterisk-conf/`` templates into a configuration directory.

The templates are ordinary Asterisk configuration files with ``{{NAME}}``
placeholders (Asterisk's own ``${VAR}`` syntax is left alone). Rendering checks
every value first, so a bad port or a default password is refused with a clear
message instead of an Asterisk that misbehaves later.
"""

from __future__ import annotations

import ipaddress
import platform
import re
from dataclasses import dataclass, fields
from pathlib import Path

import voxtra
from voxtra.errors import VoxtraError
from voxtra.files import write_atomically

PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")

#: Passwords that ship in examples everywhere; Voxtra never renders them.
WELL_KNOWN_PASSWORDS = frozenset(
    {"", "asterisk", "secret", "password", "changeme", "admin", "1234", "12345678", "voxtra"}
)


class AsteriskConfError(VoxtraError, ValueError):
    """A configuration value cannot be rendered; the message says which and why."""


@dataclass(frozen=True)
class AsteriskConf:
    """The values that the configuration templates take.

    Directory fields are paths as Asterisk sees them (inside the sandbox's root
    file system, or inside a container).
    """

    ari_password: str
    ari_user: str = "voxtra"
    ari_bind: str = "127.0.0.1"
    ari_port: int = 8088
    sip_bind: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 10999
    app_name: str = "voxtra"
    loopback_peer: str = "127.0.0.1"
    queue_agent_uri: str = "sip:agent@127.0.0.1:5099"
    system_name: str = "voxtra"
    #: SIP over TLS (transport-tls in pjsip.conf): off unless both PEM paths are set.
    sip_tls_cert: str = ""
    sip_tls_key: str = ""
    #: The CAs that vouch for the TLS peers Asterisk calls (Debian's bundle by default).
    sip_tls_ca: str = "/etc/ssl/certs/ca-certificates.crt"
    #: The TLS transport's address; empty: ``sip_bind``.
    sip_tls_bind: str = ""
    sip_tls_port: int = 5061
    #: Address or network of a peer calling in over TLS with SRTP (endpoint tls-peer).
    sip_tls_peer: str = ""
    #: ARI over HTTPS/WSS (http.conf): off unless both PEM paths are set.
    ari_tls_cert: str = ""
    ari_tls_key: str = ""
    #: The HTTPS address; empty: ``ari_bind``.
    ari_tls_bind: str = ""
    ari_tls_port: int = 8089
    #: Allow ARI or SIP on every address, plain-HTTP ARI beyond loopback, or SIP peers
    #: from a network wider than /16 (refused otherwise: say so only when a firewall
    #: or a VPN guards them).
    open_binds: bool = False
    #: Debian's multiarch module directory for this machine's architecture.
    module_dir: str = f"/usr/lib/{platform.machine()}-linux-gnu/asterisk/modules"
    etc_dir: str = "/etc/asterisk"
    run_dir: str = "/var/run/asterisk"
    spool_dir: str = "/var/spool/asterisk"
    log_dir: str = "/var/log/asterisk"
    varlib_dir: str = "/var/lib/asterisk"
    cache_dir: str = "/var/cache/asterisk"

    def validate(self) -> None:
        """Raise :class:`AsteriskConfError` naming the first value that is unusable."""
        password = self.ari_password
        if (password.lower() in WELL_KNOWN_PASSWORDS or len(password) < 12
                or len(set(password)) < 8):
            raise AsteriskConfError(
                "ari_password must be at least 12 characters, with at least 8 different "
                "ones, and not a well-known default; generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
            )
        for name in ("ari_password", "ari_user", "app_name", "system_name", "queue_agent_uri"):
            value = getattr(self, name)
            if not value or re.search(r"[\s;\[\]{}]", value):
                shown = "" if name == "ari_password" else f"={value!r}"  # never a secret
                raise AsteriskConfError(
                    f"{name}{shown} is empty or holds whitespace or one of ; [ ] {{ }}, "
                    "which Asterisk's configuration syntax cannot carry"
                )
        binds = ["ari_bind", "sip_bind"] + [
            name for name in ("sip_tls_bind", "ari_tls_bind") if getattr(self, name)]
        for name in binds:
            try:
                ipaddress.ip_address(getattr(self, name))
            except ValueError:
                raise AsteriskConfError(
                    f"{name}={getattr(self, name)!r} is not an IP address"
                ) from None
        peers = ["loopback_peer"] + (["sip_tls_peer"] if self.sip_tls_peer else [])
        for name in peers:
            try:
                ipaddress.ip_network(getattr(self, name))
            except ValueError:
                raise AsteriskConfError(
                    f"{name}={getattr(self, name)!r} is not an IP address or network"
                ) from None
        self._validate_tls()
        if not self.open_binds:
            for name in binds:
                if ipaddress.ip_address(getattr(self, name)).is_unspecified:
                    raise AsteriskConfError(
                        f"{name}={getattr(self, name)} listens on every network: bind an "
                        "address of this host that only trusted machines reach, or allow it "
                        "explicitly (--open-binds) where a firewall guards the port")
            if not ipaddress.ip_address(self.ari_bind).is_loopback:
                raise AsteriskConfError(
                    f"ari_bind={self.ari_bind} serves ARI over plain HTTP beyond this "
                    "machine: its password and the control of every call would cross the "
                    "network in cleartext. Keep ari_bind on loopback and serve other hosts "
                    "over TLS (--ari-tls-cert, --ari-tls-key, --ari-tls-bind), or allow it "
                    "explicitly (--open-binds) where a VPN carries it")
            for name in peers:
                if ipaddress.ip_network(getattr(self, name), strict=False).prefixlen < 16:
                    raise AsteriskConfError(
                        f"{name}={getattr(self, name)} lets a whole network call in "
                        "unauthenticated: name the peers' addresses, or allow it explicitly "
                        "(--open-binds)")
        for name in ("ari_port", "sip_port", "rtp_start", "rtp_end", "sip_tls_port",
                     "ari_tls_port"):
            port = getattr(self, name)
            if not 1 <= port <= 65535:
                raise AsteriskConfError(f"{name}={port} is not a port number (1-65535)")
        if self.rtp_end - self.rtp_start < 10 or self.rtp_start % 2:
            raise AsteriskConfError(
                f"RTP range {self.rtp_start}-{self.rtp_end} must start on an even port "
                "and hold at least 10 ports"
            )

    @property
    def sip_tls(self) -> bool:
        """Whether the SIP TLS transport is rendered (a certificate and key are set)."""
        return bool(self.sip_tls_cert and self.sip_tls_key)

    @property
    def ari_tls(self) -> bool:
        """Whether ARI is served over HTTPS (a certificate and key are set)."""
        return bool(self.ari_tls_cert and self.ari_tls_key)

    def _validate_tls(self) -> None:
        for kind, cert, key in (("sip", self.sip_tls_cert, self.sip_tls_key),
                                ("ari", self.ari_tls_cert, self.ari_tls_key)):
            if bool(cert) != bool(key):
                raise AsteriskConfError(
                    f"{kind}_tls_cert and {kind}_tls_key go together: TLS needs the "
                    "certificate and its private key (PEM files)")
        paths = ["sip_tls_cert", "sip_tls_key", "sip_tls_ca"] if self.sip_tls else []
        paths += ["ari_tls_cert", "ari_tls_key"] if self.ari_tls else []
        for name in paths:
            value = getattr(self, name)
            if not value.startswith("/") or re.search(r"[\s;\[\]{}]", value):
                raise AsteriskConfError(
                    f"{name}={value!r} must be an absolute path (as Asterisk sees it) "
                    "without whitespace or one of ; [ ] { }")
        if self.sip_tls_peer and not self.sip_tls:
            raise AsteriskConfError(
                "sip_tls_peer needs the TLS transport: set sip_tls_cert and sip_tls_key")
        if self.ari_tls and self.ari_tls_port == self.ari_port and ipaddress.ip_address(
                self.ari_tls_bind or self.ari_bind) == ipaddress.ip_address(self.ari_bind):
            raise AsteriskConfError(
                f"ari_tls_port={self.ari_tls_port} is also the plain HTTP port on "
                f"{self.ari_bind}: give HTTPS a port of its own")

    def values(self) -> dict[str, str]:
        """Placeholder name (``ARI_PORT``) to rendered text.

        ``IF_SIP_TLS``, ``IF_SIP_TLS_PEER`` and ``IF_ARI_TLS`` start the lines of an
        optional block: empty when it is configured, ``;`` (commenting the block out)
        otherwise.
        """
        values = {f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}
        values["SIP_TLS_ADDRESS"] = _address(self.sip_tls_bind or self.sip_bind,
                                             self.sip_tls_port)
        values["ARI_TLS_ADDRESS"] = _address(self.ari_tls_bind or self.ari_bind,
                                             self.ari_tls_port)
        values["IF_SIP_TLS"] = "" if self.sip_tls else ";"
        values["IF_SIP_TLS_PEER"] = "" if self.sip_tls and self.sip_tls_peer else ";"
        values["IF_ARI_TLS"] = "" if self.ari_tls else ";"
        return values


def _address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def template_dir() -> Path:
    """The ``asterisk-conf/`` directory: inside the installed wheel, or in a source checkout."""
    package = Path(voxtra.__file__).resolve().parent
    for candidate in (package / "asterisk-conf", package.parent / "asterisk-conf"):
        if (candidate / "asterisk.conf").is_file():
            return candidate
    raise FileNotFoundError(f"asterisk-conf/ not found next to {package}")


def render_text(text: str, values: dict[str, str], source: str = "<text>") -> str:
    """Fill ``{{NAME}}`` placeholders; an unknown name is an error, never left in place."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise AsteriskConfError(f"{source}: unknown placeholder {{{{{name}}}}}")
        return values[name]

    return PLACEHOLDER.sub(fill, text)


def render(conf: AsteriskConf, destination: Path, source: Path | None = None) -> list[Path]:
    """Validate ``conf`` and write every ``*.conf`` template into ``destination``."""
    conf.validate()
    values = conf.values()
    source = source or template_dir()
    destination.mkdir(parents=True, exist_ok=True)
    written = []
    for template in sorted(source.glob("*.conf")):
        target = destination / template.name
        text = render_text(template.read_text(), values, template.name)
        # A file holding the password is the owner's alone from the moment it exists.
        write_atomically(target, text.encode(),
                         0o600 if conf.ari_password in text else 0o644)
        written.append(target)
    return written

