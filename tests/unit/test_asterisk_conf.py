"""The bundled asterisk-conf/ templates render completely and refuse unsafe values."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from voxtra.asterisk.conf import (
    PLACEHOLDER,
    AsteriskConf,
    AsteriskConfError,
    render,
    render_text,
    template_dir,
)
from voxtra.cli import main

GOOD = AsteriskConf(ari_password="k3y-that-is-long-enough")


def test_every_template_renders_without_leftover_placeholders(tmp_path: Path) -> None:
    written = render(GOOD, tmp_path)
    names = {path.name for path in written}
    assert {"http.conf", "ari.conf", "pjsip.conf", "extensions.conf", "rtp.conf",
            "musiconhold.conf", "queues.conf", "modules.conf", "asterisk.conf"} <= names
    for path in written:
        assert not PLACEHOLDER.search(path.read_text()), path.name
    ari = (tmp_path / "ari.conf").read_text()
    assert "password = k3y-that-is-long-enough" in ari
    assert "bindaddr = 127.0.0.1" in (tmp_path / "http.conf").read_text()


def test_dialplan_keeps_asterisk_variables_and_sends_calls_to_stasis(tmp_path: Path) -> None:
    render(replace(GOOD, app_name="myapp"), tmp_path)
    dialplan = (tmp_path / "extensions.conf").read_text()
    assert "Stasis(myapp,${EXTEN})" in dialplan


def test_no_endpoint_reaches_the_outbound_context() -> None:
    pjsip = (template_dir() / "pjsip.conf").read_text()
    contexts = {line.split("=")[1].strip() for line in pjsip.splitlines()
                if line.startswith("context")}
    assert contexts == {"voxtra-inbound"}
    assert "anonymous" not in [line.strip("[]") for line in pjsip.splitlines()]


@pytest.mark.parametrize("password", ["", "asterisk", "secret", "changeme", "short"])
def test_default_or_short_passwords_are_refused(password: str, tmp_path: Path) -> None:
    with pytest.raises(AsteriskConfError, match="ari_password"):
        render(replace(GOOD, ari_password=password), tmp_path)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("ari_password", "long-enough-but;comment", "ari_password"),
    ("ari_bind", "localhost", "not an IP address"),
    ("ari_port", 70000, "not a port number"),
    ("rtp_start", 10001, "even port"),
])
def test_unusable_values_name_the_field(field: str, value: object, message: str,
                                        tmp_path: Path) -> None:
    with pytest.raises(AsteriskConfError, match=message):
        render(replace(GOOD, **{field: value}), tmp_path)


def test_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(AsteriskConfError, match="NOPE"):
        render_text("x = {{NOPE}}", GOOD.values(), "x.conf")


def test_a_bad_password_is_named_never_shown(tmp_path: Path) -> None:
    with pytest.raises(AsteriskConfError, match="ari_password") as raised:
        render(replace(GOOD, ari_password="long enough but spaced"), tmp_path)
    assert "spaced" not in str(raised.value)


#: Audited file operations while a test watches (an audit hook cannot be removed).
_WATCH: list[Callable[[str], None]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCH and event in ("open", "os.chmod", "os.rename", "os.replace", "os.remove"):
        _WATCH[0](event)


sys.addaudithook(_audit)


def test_files_holding_the_password_are_private_from_the_moment_they_exist(
        tmp_path: Path) -> None:
    (tmp_path / "ari.conf").write_text("[old]\n")  # a render over an older one
    (tmp_path / "ari.conf").chmod(0o644)
    exposed: list[str] = []

    def check(event: str) -> None:  # at every file operation, before it happens
        _WATCH.clear()  # the check's own reads are not audited
        try:
            for path in tmp_path.iterdir():
                if GOOD.ari_password in path.read_text() and path.stat().st_mode & 0o077:
                    exposed.append(f"{path.name} {oct(path.stat().st_mode)} at {event}")
        finally:
            _WATCH.append(check)

    _WATCH.append(check)
    try:
        render(GOOD, tmp_path)
    finally:
        _WATCH.clear()
    assert exposed == []
    assert (tmp_path / "ari.conf").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "pjsip.conf").stat().st_mode & 0o777 == 0o644  # the rest stay readable
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        t.name for t in template_dir().glob("*.conf"))  # no temporary file is left


def test_sip_peers_are_identified_by_address_only_and_cannot_transfer() -> None:
    pjsip = (template_dir() / "pjsip.conf").read_text()
    settings = {line.split("=")[0].strip(): line.split("=", 1)[1].strip()
                for line in pjsip.splitlines() if "=" in line and not line.startswith(";")}
    assert settings["endpoint_identifier_order"] == "ip"  # not username: a From is no proof
    assert settings["identify_by"] == "ip"
    assert settings["allow_transfer"] == "no"  # a caller's REFER cannot make the PBX dial


@pytest.mark.parametrize("changes", [{"ari_bind": "0.0.0.0"}, {"sip_bind": "::"},
                                     {"loopback_peer": "0.0.0.0/0"}])
def test_open_binds_are_refused_unless_allowed(changes: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(AsteriskConfError, match="open-binds"):
        render(replace(GOOD, **changes), tmp_path)
    render(replace(GOOD, open_binds=True, **changes), tmp_path)  # said explicitly: fine


def test_a_password_of_one_repeated_character_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AsteriskConfError, match="8 different"):
        render(replace(GOOD, ari_password="aaaaaaaaaaaa"), tmp_path)


def test_render_conf_takes_open_binds_as_a_flag(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXTRA_ARI_PASSWORD", "a-compose-password-123")
    assert main(["render-conf", str(tmp_path / "a"), "--ari-bind", "0.0.0.0"]) == 1
    assert main(["render-conf", str(tmp_path / "b"), "--ari-bind", "0.0.0.0",
                 "--open-binds"]) == 0
    assert "bindaddr = 0.0.0.0" in (tmp_path / "b" / "http.conf").read_text()
