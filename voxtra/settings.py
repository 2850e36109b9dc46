"""Voxtra's one settings object (pydantic-settings).

Sources, strongest first: arguments, ``VOXTRA_*`` environment variables, a
``.env`` file, then a YAML file named by ``config_file`` or ``VOXTRA_CONFIG``.
In the YAML file ``${VAR}`` and ``${VAR:-default}`` in string values are
expanded from the environment; a variable that is unset and has no default is
an error that names it.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from voxtra.errors import VoxtraError
from voxtra.voice.settings import VoiceSettings

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(VoxtraError, ValueError):
    """The configuration file cannot be used; the message says where and why."""


class RouteSettings(BaseModel):
    """A route in the YAML file; ``handler`` is ``package.module:function``."""

    model_config = ConfigDict(extra="forbid")
    handler: str
    did: str | None = None
    extension: str | None = None
    pattern: str | None = None
    caller: str | None = None
    header: dict[str, str] = Field(default_factory=dict)
    priority: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)


class VoxtraSettings(BaseSettings):
    """How to reach Asterisk and how the app behaves."""

    model_config = SettingsConfigDict(env_prefix="VOXTRA_", env_file=".env", extra="ignore")

    #: A YAML file with any of these settings (also ``VOXTRA_CONFIG``).
    config_file: Path | None = None
    #: ARI base URL; loopback by default. With ``https://`` the REST calls and the event
    #: websocket (``wss://``) use TLS, the server's certificate verified.
    ari_url: str = "http://127.0.0.1:8088"
    #: The CA certificates (PEM) that vouch for ARI's certificate; the system's if unset.
    ari_ca_file: Path | None = None
    ari_user: str = "voxtra"
    #: Required: there is no default password.
    ari_password: SecretStr
    #: The Stasis application name the dialplan sends calls to.
    app_name: str = "voxtra"
    #: Calls this process carries at once; a new call beyond them is refused with SIP 503,
    #: which a load balancer retries on another server. Unlimited if unset
    #: (``bench/media_bench.py`` measures what one core carries).
    max_calls: int | None = Field(default=None, ge=1)
    #: Refuse new calls the same way while the event loops use this share of a core or
    #: more (``app.load``, averaged over a second: :mod:`voxtra.load`), so the calls up
    #: keep their audio on time; never if unset (with one server, a refused call is lost).
    max_load: float | None = Field(default=None, gt=0, le=1)
    #: Seconds running handlers get to finish on shutdown before calls are hung up.
    shutdown_grace: float = Field(default=10.0, ge=0)
    #: A call no route matches is rejected ("reject") or hears a prompt first ("announce").
    unmatched_action: Literal["reject", "announce"] = "reject"
    #: The hangup reason for unmatched calls (ARI: normal, busy, congestion, unallocated...).
    unmatched_cause: str = "unallocated"
    unmatched_prompt: str = "sound:ss-noservice"
    #: Where recordings land by default (LocalFileSink), and where files wait for a
    #: remote sink until it has them.
    recordings_dir: Path = Path("recordings")
    #: ExternalMedia audio format: ulaw, alaw, slin (8 kHz) or slin16 (16 kHz wideband).
    media_format: Literal["ulaw", "alaw", "slin", "slin16"] = "ulaw"
    #: Address our RTP sockets bind to; loopback unless Asterisk runs elsewhere.
    media_bind: str = "127.0.0.1"
    #: Address given to Asterisk for our RTP (behind NAT); the bind address if unset.
    #: When it differs, the call's RTP end learns where Asterisk's packets really come
    #: from (the first source to send 4 in sequence), since a NAT or relay may change it.
    media_advertise: str | None = None
    #: The UDP ports our RTP sockets use, ``first-last`` (e.g. ``40000-40999``, one per
    #: call with media), for a NAT or firewall to forward; any free port if unset.
    media_ports: tuple[int, int] | None = None
    #: Packets the jitter buffer holds back waiting for a late one (20 ms each).
    jitter_depth: int = Field(default=3, ge=0, le=50)
    #: Run RTP sockets and the media clock on a thread of their own, so a handler that
    #: blocks the event loop does not stop every call's audio (see voxtra.media.thread).
    media_thread: bool = True
    #: Seconds without RTP from Asterisk after which a call with media is hung up.
    rtp_inactivity_timeout: float | None = Field(default=30.0, gt=0)
    #: The HTTP port of /metrics (Prometheus), /health and /ready; off if unset, any
    #: free port if 0 (``app.status.port`` says which).
    status_port: int | None = Field(default=None, ge=0, le=65535)
    #: The address it listens on; loopback unless configured.
    status_bind: str = "127.0.0.1"
    #: Where call events are posted (:mod:`voxtra.webhooks`), signed with
    #: ``webhook_secret``; none if unset.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    #: Turn-taking, provider time limits, and what the agent says.
    voice: VoiceSettings = VoiceSettings()
    #: Routes added to the app at start, after those registered in code.
    routes: list[RouteSettings] = Field(default_factory=list)

    @field_validator("ari_url")
    @classmethod
    def _ari_url(cls, value: str) -> str:
        if not re.match(r"https?://[^/]", value):
            raise ValueError("must start with http:// or https:// (ARI's base URL, "
                             "e.g. http://127.0.0.1:8088)")
        if "@" in value.split("/")[2]:
            raise ValueError("holds a user and password: give them as VOXTRA_ARI_USER and "
                             "VOXTRA_ARI_PASSWORD, and the URL without them")
        return value.rstrip("/")

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        url = info.data.get("webhook_url")
        if url is not None and not re.match(r"https?://[^/]", url):
            raise ValueError("webhook_url (VOXTRA_WEBHOOK_URL) must start with http:// or "
                             "https://")
        if url is not None and (value is None or len(value.get_secret_value()) < 16):
            raise ValueError("webhook_url needs a secret of 16 characters or more to sign "
                             "the events with (VOXTRA_WEBHOOK_SECRET)")
        return value

    @field_validator("media_bind", "status_bind")
    @classmethod
    def _bind_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("must be an IP address of this machine (sockets bind to "
                             "it)") from None
        return value

    @field_validator("media_ports", mode="before")
    @classmethod
    def _media_ports(cls, value: Any) -> Any:
        if isinstance(value, str):
            first, dash, last = value.partition("-")
            if not (dash and first.strip().isdigit() and last.strip().isdigit()):
                raise ValueError("must be first-last, e.g. 40000-40999")
            value = (int(first), int(last))
        if value is not None and not 1024 <= value[0] <= value[1] <= 65535:
            raise ValueError("must be a range of ports within 1024-65535, first <= last")
        return value

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings,
                YamlFileSource(settings_cls, init_settings), file_secret_settings)


def load_settings(**overrides: Any) -> VoxtraSettings:
    """:class:`VoxtraSettings` from the environment, the YAML file and ``overrides``;
    :class:`ConfigError` naming each bad setting and its variable (never its value,
    which may be a secret) instead of pydantic's report."""
    try:
        return VoxtraSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            variable = f"VOXTRA_{name.upper()}"
            if name == "ari_password" and error["type"] == "missing":
                problems.append(
                    f"{variable} is not set: Voxtra needs the password of the ARI user "
                    "(ari.conf of your Asterisk); for the sandbox, run "
                    '`eval "$(voxtra sandbox env)"`')
            elif error["type"] == "extra_forbidden":
                problems.append(f"{name} is not a setting{_suggestion(error['loc'])}")
            else:
                message = error["msg"].removeprefix("Value error, ")
                problems.append(f"{name} ({variable}): {message}")
        raise ConfigError("; ".join(problems)) from None


def _suggestion(location: tuple[int | str, ...]) -> str:
    """" (did you mean ...?)" for a misspelt setting at ``location``, or ""."""
    model: Any = VoxtraSettings
    for part in location[:-1]:
        if isinstance(part, int):  # an item of a list of settings (routes)
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        model = next((kind for kind in typing.get_args(annotation) or (annotation,)
                      if isinstance(kind, type) and issubclass(kind, BaseModel)), None)
        if model is None:
            return ""
    close = difflib.get_close_matches(str(location[-1]), list(model.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class YamlFileSource(PydanticBaseSettingsSource):
    """Settings from the YAML file, with ``${VAR}`` references expanded."""

    def __init__(self, settings_cls: type[BaseSettings],
                 init_settings: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        given = init_settings.init_kwargs if isinstance(init_settings,
                                                        InitSettingsSource) else {}
        self.path = given.get("config_file") or os.environ.get("VOXTRA_CONFIG")

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        if not self.path:
            return {}
        path = Path(self.path)
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            # Say where and what, never the text there: it may hold a password.
            # An unclosed quote is found at the end of the file: its context mark is
            # where the trouble began ("while scanning a quoted scalar" at line 1).
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            context, began = getattr(exc, "context", None), getattr(exc, "context_mark", None)
            if context and began is not None:
                problem += (f" ({context} that begins at line {began.line + 1}, column "
                            f"{began.column + 1})")
            raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") \
                from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping of settings")
        unknown = [key for key in data if key not in self.settings_cls.model_fields]
        if unknown:
            raise ConfigError("; ".join(
                f"config file {path}: {key} is not a setting{_suggestion((str(key),))}"
                for key in unknown))
        expanded: dict[str, Any] = expand(data, str(path))
        return expanded


def expand(value: Any, where: str) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string inside ``value``."""
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{where}: ${{{name}}} is not set in the environment "
                              "(set it, or write ${" + name + ":-default})")
        return _REFERENCE.sub(replace, value)
    if isinstance(value, dict):
        return {key: expand(item, where) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item, where) for item in value]
    return value
