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
    #: Allow ARI or SIP on every address, or SIP peers from a network wider than /16
    #: (refused otherwise: say so only when a firewall guards them).
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
        for name in ("ari_bind", "sip_bind"):
            try:
                ipaddress.ip_address(getattr(self, name))
            except ValueError:
                raise AsteriskConfError(
                    f"{name}={getattr(self, name)!r} is not an IP address"
                ) from None
        try:
            ipaddress.ip_network(self.loopback_peer)
        except ValueError:
            raise AsteriskConfError(
                f"loopback_peer={self.loopback_peer!r} is not an IP address or network"
            ) from None
        if not self.open_binds:
            for name in ("ari_bind", "sip_bind"):
                if ipaddress.ip_address(getattr(self, name)).is_unspecified:
                    raise AsteriskConfError(
                        f"{name}={getattr(self, name)} listens on every network: bind an "
                        "address of this host that only trusted machines reach, or allow it "
                        "explicitly (--open-binds) where a firewall guards the port")
            if ipaddress.ip_network(self.loopback_peer, strict=False).prefixlen < 16:
                raise AsteriskConfError(
                    f"loopback_peer={self.loopback_peer} lets a whole network call in "
                    "unauthenticated: name the peers' addresses, or allow it explicitly "
                    "(--open-binds)")
        for name in ("ari_port", "sip_port", "rtp_start", "rtp_end"):
            port = getattr(self, name)
            if not 1 <= port <= 65535:
                raise AsteriskConfError(f"{name}={port} is not a port number (1-65535)")
        if self.rtp_end - self.rtp_start < 10 or self.rtp_start % 2:
            raise AsteriskConfError(
                f"RTP range {self.rtp_start}-{self.rtp_end} must start on an even port "
                "and hold at least 10 ports"
            )

    def values(self) -> dict[str, str]:
        """Placeholder name (``ARI_PORT``) to rendered text."""
        return {f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}


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
        target.write_text(text)
        if conf.ari_password in text:  # a secret: for the owner only
            target.chmod(0o600)
        written.append(target)
    return written
