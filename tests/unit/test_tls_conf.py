"""Rendering of the TLS and SRTP parts of asterisk-conf/ (pjsip.conf, http.conf).

Facts relied on: Asterisk's configuration parser ignores what follows ``;`` on a line, so
a block rendered with a leading ``;`` on each line does not exist for Asterisk; a section
declared ``[name](!,base)`` is a template, instantiated only by sections that name it;
chan_pjsip's ``media_encryption = sdes`` is SDES-SRTP (RFC 4568), which keeps the keys
secret only over a secure signalling transport (RFC 4568 section 8.3); PJSIP's TLS
``method`` left unset is TLS 1.0 only, ``sslv23`` negotiates the newest version both
sides have (TLS 1.3, RFC 8446); http.conf's ``tlsenable`` adds an HTTPS listener beside
the plain one on ``bindaddr``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from voxtra.asterisk.conf import PLACEHOLDER, AsteriskConf, AsteriskConfError, render
from voxtra.cli import main

GOOD = AsteriskConf(ari_password="k3y-that-is-long-enough")
TLS = replace(GOOD, sip_tls_cert="/etc/asterisk/keys/sip.pem",
              sip_tls_key="/etc/asterisk/keys/sip.key", sip_tls_ca="/etc/asterisk/keys/ca.pem",
              ari_tls_cert="/etc/asterisk/keys/ari.pem", ari_tls_key="/etc/asterisk/keys/ari.key")


def sections(text: str) -> dict[str, list[dict[str, str]]]:
    """What Asterisk reads: sections (by name, several per name) with their settings,
    comments stripped."""
    found: dict[str, list[dict[str, str]]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            current = {"(options)": line[line.index("]") + 1:]}
            found.setdefault(line[1:line.index("]")], []).append(current)
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip().lstrip(">").strip()
    return found


def rendered(conf: AsteriskConf, tmp_path: Path, name: str) -> dict[str, list[dict[str, str]]]:
    render(conf, tmp_path)
    return sections((tmp_path / name).read_text())


def test_without_a_certificate_there_is_no_tls_listener_and_no_tls_endpoint(
        tmp_path: Path) -> None:
    pjsip = rendered(GOOD, tmp_path, "pjsip.conf")
    http = rendered(GOOD, tmp_path, "http.conf")
    transports = [s for group in pjsip.values() for s in group if s.get("type") == "transport"]
    assert [t["protocol"] for t in transports] == ["udp"]
    assert "tls-peer" not in pjsip
    assert "tlsenable" not in http["general"][0]
    assert http["general"][0]["bindaddr"] == "127.0.0.1"
    # Only the template (never instantiated) mentions TLS and SRTP.
    using_tls = [name for name, group in pjsip.items() for s in group
                 if s.get("transport") == "transport-tls"]
    assert using_tls == ["voxtra-endpoint-tls"]
    assert pjsip["voxtra-endpoint-tls"][0]["(options)"] == "(!,voxtra-endpoint)"


def test_a_sip_certificate_renders_a_verifying_tls_transport(tmp_path: Path) -> None:
    pjsip = rendered(replace(TLS, sip_tls_port=5062), tmp_path, "pjsip.conf")
    (transport,) = pjsip["transport-tls"]
    assert transport == {
        "(options)": "", "type": "transport", "protocol": "tls", "bind": "127.0.0.1:5062",
        "cert_file": "/etc/asterisk/keys/sip.pem", "priv_key_file": "/etc/asterisk/keys/sip.key",
        "ca_list_file": "/etc/asterisk/keys/ca.pem", "method": "sslv23",
        "verify_server": "yes", "verify_client": "no"}
    assert not PLACEHOLDER.search((tmp_path / "pjsip.conf").read_text())


def test_the_srtp_template_refuses_plain_rtp_over_tls() -> None:
    pjsip = sections((Path(__file__).parents[2] / "asterisk-conf" / "pjsip.conf").read_text())
    (template,) = pjsip["voxtra-endpoint-tls"]
    assert template["media_encryption"] == "sdes"
    assert template["media_encryption_optimistic"] == "no"
    assert template["transport"] == "transport-tls"


def test_the_tls_peer_is_an_srtp_endpoint_identified_by_address(tmp_path: Path) -> None:
    pjsip = rendered(replace(TLS, sip_tls_peer="192.0.2.10"), tmp_path, "pjsip.conf")
    endpoint, aor, identify = pjsip["tls-peer"]
    assert endpoint["(options)"] == "(voxtra-endpoint-tls)" and endpoint["aors"] == "tls-peer"
    assert aor["type"] == "aor"
    assert identify == {"(options)": "", "type": "identify", "endpoint": "tls-peer",
                        "match": "192.0.2.10"}


def test_an_ari_certificate_adds_https_beside_loopback_http(tmp_path: Path) -> None:
    http = rendered(replace(TLS, ari_tls_bind="192.0.2.1", ari_tls_port=8443), tmp_path,
                    "http.conf")["general"][0]
    assert http["bindaddr"] == "127.0.0.1"
    assert http["tlsenable"] == "yes"
    assert http["tlsbindaddr"] == "192.0.2.1:8443"
    assert http["tlscertfile"] == "/etc/asterisk/keys/ari.pem"
    assert http["tlsprivatekey"] == "/etc/asterisk/keys/ari.key"


def test_ipv6_tls_addresses_are_bracketed(tmp_path: Path) -> None:
    conf = replace(TLS, ari_tls_bind="::1", sip_tls_bind="::1")
    assert rendered(conf, tmp_path, "http.conf")["general"][0]["tlsbindaddr"] == "[::1]:8089"
    assert rendered(conf, tmp_path, "pjsip.conf")["transport-tls"][0]["bind"] == "[::1]:5061"


@pytest.mark.parametrize(("changes", "message"), [
    ({"sip_tls_key": ""}, "sip_tls_cert and sip_tls_key go together"),
    ({"ari_tls_cert": ""}, "ari_tls_cert and ari_tls_key go together"),
    ({"sip_tls_cert": "keys/sip.pem"}, "absolute path"),
    ({"ari_tls_key": "/etc/asterisk/my key.pem"}, "absolute path"),
    ({"sip_tls_bind": "example.org"}, "not an IP address"),
    ({"sip_tls_peer": "peer.example"}, "not an IP address or network"),
    ({"sip_tls_peer": "10.0.0.0/8"}, "open-binds"),
    ({"ari_tls_bind": "0.0.0.0"}, "open-binds"),
    ({"ari_tls_port": 8088}, "port of its own"),
    ({"sip_tls_port": 0}, "not a port number"),
])
def test_unusable_tls_values_are_refused(changes: dict[str, object], message: str,
                                         tmp_path: Path) -> None:
    with pytest.raises(AsteriskConfError, match=message):
        render(replace(TLS, **changes), tmp_path)


def test_a_tls_peer_needs_the_tls_transport(tmp_path: Path) -> None:
    with pytest.raises(AsteriskConfError, match="sip_tls_peer needs the TLS transport"):
        render(replace(GOOD, sip_tls_peer="192.0.2.10"), tmp_path)


@pytest.mark.parametrize("bind", ["192.0.2.1", "0.0.0.0", "::"])
def test_plain_http_ari_beyond_loopback_is_refused_even_with_tls(bind: str,
                                                                 tmp_path: Path) -> None:
    for conf in (GOOD, TLS):  # TLS adds a listener: the plain one would stay cleartext
        with pytest.raises(AsteriskConfError, match="open-binds"):
            render(replace(conf, ari_bind=bind), tmp_path)
    render(replace(GOOD, ari_bind=bind, open_binds=True), tmp_path)


def test_https_on_a_public_address_with_loopback_http_is_fine(tmp_path: Path) -> None:
    render(replace(TLS, ari_tls_bind="192.0.2.1"), tmp_path)
    general = sections((tmp_path / "http.conf").read_text())["general"][0]
    assert general["bindaddr"] == "127.0.0.1"  # plain HTTP stays on loopback
    assert general["tlsenable"] == "yes" and general["tlsbindaddr"].startswith("192.0.2.1:")


def test_render_conf_turns_tls_on_from_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOXTRA_ARI_PASSWORD", "a-compose-password-123")
    assert main(["render-conf", str(tmp_path), "--sip-tls-cert", "/k/sip.pem",
                 "--sip-tls-key", "/k/sip.key", "--ari-tls-cert", "/k/ari.pem",
                 "--ari-tls-key", "/k/ari.key", "--ari-tls-bind", "192.0.2.1"]) == 0
    out = capsys.readouterr().out
    assert "ARI over HTTPS/WSS on 192.0.2.1:8089" in out
    assert "SIP over TLS on 127.0.0.1:5061" in out
    assert sections((tmp_path / "pjsip.conf").read_text())["transport-tls"]
    assert main(["render-conf", str(tmp_path / "b"), "--sip-tls-cert", "/k/sip.pem"]) == 1
    assert "go together" in capsys.readouterr().err


def test_render_conf_warns_loudly_when_open_binds_allows_plain_http_ari(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOXTRA_ARI_PASSWORD", "a-compose-password-123")
    assert main(["render-conf", str(tmp_path), "--ari-bind", "192.0.2.1"]) == 1
    assert "cleartext" in capsys.readouterr().err
    assert main(["render-conf", str(tmp_path), "--ari-bind", "192.0.2.1",
                 "--open-binds"]) == 0
    assert "WARNING: ARI over plain HTTP on 192.0.2.1" in capsys.readouterr().err
    assert main(["render-conf", str(tmp_path / "c")]) == 0
    assert "WARNING" not in capsys.readouterr().err
