"""SIP over TLS with SDES-SRTP, and ARI over https/wss, through real sandbox Asterisks.

Two instances with TLS on, certificates from a throwaway CA made with ``openssl``:
``far`` (127.0.0.1) is Voxtra's Asterisk, its app connected over https/wss; ``peer``
(127.0.0.2) is a PBX that calls it over TLS with SRTP through its ``tls-peer``
endpoint. What was used is read where it happened: Asterisk's own channel functions
on the far end, and the packets on the loopback interface (dumpcap).

Protocol facts relied on:

* TLS (RFC 8446 section 5.1, RFC 5246 section 6.2): every record starts with its
  content type (22 = handshake) and a 0x03 0x0N version; nothing of the SIP text
  (``SIP/2.0``) can be read in the stream.
* SRTP (RFC 3711 section 3.1): the RTP header stays readable; the payload is encrypted
  (AES counter mode, section 4.1.1) and followed by an authentication tag of 80 or 32
  bits (the SDES suites AES_CM_128_HMAC_SHA1_80/_32 of RFC 4568 section 6.2). A 20 ms
  PCMU frame is 160 bytes in plain RTP (RFC 3551 section 4.5.14), and PCMU silence is a
  handful of byte values; encrypted, the bytes look uniformly random.
* chan_pjsip: ``CHANNEL(pjsip,secure)`` is 1 when the signalling transport is TLS,
  ``CHANNEL(rtp,secure)`` is 1 when the media is SRTP; ``CHANNEL(pjsip,local_addr)``
  is the transport address the request came in on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from voxtra import CallSession, VoxtraApp, VoxtraSettings
from voxtra.ari import AriClient, AriTlsError, EventStream
from voxtra.sandbox.asterisk import AsteriskSandbox, SandboxOptions, SandboxState
from voxtra.sandbox.capture import read_pcap_rtp
from voxtra.sandbox.ports import free_port
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.testing.events import EventLog

PEER_ADDRESS = "127.0.0.2"


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path
    #: A CA that signed nothing here.
    other_ca: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", f"/CN={name}", "-keyout", str(key),
             "-out", str(cert), "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign")
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test CA and a server certificate for both loopback addresses (RFC 5280 IP SANs)."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed (scripts/setup.sh installs it)")
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_key = _make_ca(directory, "voxtra-test-ca")
    other_ca, _ = _make_ca(directory, "other-ca")
    key, request, cert = directory / "key.pem", directory / "req.csr", directory / "cert.pem"
    extensions = directory / "ext.cnf"
    extensions.write_text(f"subjectAltName = IP:127.0.0.1, IP:{PEER_ADDRESS}\n"
                          "extendedKeyUsage = serverAuth, clientAuth\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-subj", "/CN=voxtra-sandbox", "-keyout", str(key), "-out", str(request))
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(cert))
    return Pki(ca=ca, cert=cert, key=key, other_ca=other_ca)


def _tls_sandbox(pki: Pki, name: str, bind: str, peer: str, app_name: str,
                 rtp_start: int) -> AsteriskSandbox:
    return AsteriskSandbox(SandboxOptions(
        name=f"{name}-{os.getpid()}", bind=bind, app_name=app_name,
        ari_port=free_port(), ari_tls_port=free_port(),
        sip_port=free_port(socket.SOCK_DGRAM), sip_tls_port=free_port(),
        rtp_start=rtp_start, rtp_end=rtp_start + 99,
        tls_cert=str(pki.cert), tls_key=str(pki.key), tls_ca=str(pki.ca), sip_tls_peer=peer))


@pytest.fixture(scope="module")
def far(pki: Pki) -> Iterator[AsteriskSandbox]:
    """Voxtra's Asterisk: ARI over https only, SIP TLS with tls-peer = the peer."""
    sandbox = _tls_sandbox(pki, "pytest-tls-far", "127.0.0.1", PEER_ADDRESS, "voxtra",
                           40000 + 200 * random.randrange(25))
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop(keep_files=bool(os.environ.get("VOXTRA_SANDBOX_KEEP")))


@pytest.fixture(scope="module")
def peer(pki: Pki) -> Iterator[AsteriskSandbox]:
    """The calling PBX, on another loopback address (so the far end tells it apart)."""
    sandbox = _tls_sandbox(pki, "pytest-tls-peer", PEER_ADDRESS, "127.0.0.1", "caller",
                           45000 + 200 * random.randrange(25))
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop(keep_files=bool(os.environ.get("VOXTRA_SANDBOX_KEEP")))


def _state(sandbox: AsteriskSandbox) -> SandboxState:
    assert sandbox.current is not None
    return sandbox.current


def _settings(state: SandboxState, ca_file: Path | None) -> VoxtraSettings:
    return VoxtraSettings(ari_url=state.ari_url, ari_user=state.ari_user,
                          ari_password=SecretStr(state.ari_password), app_name=state.app_name,
                          ari_ca_file=ca_file, shutdown_grace=2.0)


async def test_a_voxtra_app_answers_a_call_with_ari_over_https_and_wss(
        far: AsteriskSandbox, pki: Pki) -> None:
    """ARI's REST calls go to the https:// URL and its event websocket to wss:// (the
    StasisStart that routes the call arrives over it), both verified against the test
    CA; the plain HTTP listener stays on loopback."""
    state = _state(far)
    assert state.ari_url == f"https://127.0.0.1:{far.options.ari_tls_port}"
    app = VoxtraApp(_settings(state, pki.ca))
    answered: list[CallSession] = []

    @app.route(did="100")
    async def hello(call: CallSession) -> None:
        answered.append(call)
        await call.answer()
        await call.hangup()

    async with app:
        assert app.stream is not None
        assert app.stream.url == f"wss://127.0.0.1:{far.options.ari_tls_port}/ari/events"
        caller = SipCaller(state.sip_host, state.sip_port)
        result = await caller.call(CallerScript("100", wait_for_bye=10))
        await asyncio.wait_for(answered[0].wait_ended(), 5)
    assert result.succeeded, result.stderr
    assert result.answered and result.hung_up_by_remote
    assert app.stream.stats.connects == 1 and app.stream.stats.events > 0


@pytest.mark.parametrize("which", ["another CA", "the system CAs"])
async def test_a_certificate_the_ca_does_not_vouch_for_is_a_typed_error(
        far: AsteriskSandbox, pki: Pki, which: str) -> None:
    """TLS verification (RFC 5280 path validation) fails when the trusted CAs did not
    sign the server's certificate: the app does not start, and says what to set."""
    ca = pki.other_ca if which == "another CA" else None
    app = VoxtraApp(_settings(_state(far), ca))
    try:
        with pytest.raises(AriTlsError, match="ari_ca_file") as raised:
            async with app:
                pass
    finally:
        await app.client.close()
    assert "certificate" in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


async def test_the_event_stream_gives_up_on_an_untrusted_certificate(
        far: AsteriskSandbox, pki: Pki) -> None:
    """The wss handshake fails the same way: the stream raises at once instead of
    reconnecting for ever (a wrong CA does not heal by retrying)."""
    state = _state(far)
    client = AriClient(state.ari_url, state.ari_user, state.ari_password,
                       ca_file=pki.other_ca)
    try:
        stream = EventStream(client, state.app_name, lambda event: None)
        with pytest.raises(AriTlsError, match="does not vouch"):
            await asyncio.wait_for(stream.run(), 10)
        assert stream.stats.connects == 0
    finally:
        await client.close()


async def test_https_to_a_plain_http_port_is_a_typed_error(
        far: AsteriskSandbox, pki: Pki) -> None:
    """A TLS ClientHello sent to a plain HTTP listener gets no ServerHello back."""
    state = _state(far)
    client = AriClient(f"https://127.0.0.1:{far.options.ari_port}", state.ari_user,
                       state.ari_password, ca_file=pki.ca)
    try:
        with pytest.raises(AriTlsError, match="serve HTTPS"):
            await client.asterisk.info()
    finally:
        await client.close()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("port", ["sip_tls_port", "ari_tls_port"])
def test_the_tls_ports_negotiate_tls_1_2_or_newer_and_refuse_1_0(
        far: AsteriskSandbox, pki: Pki, port: str) -> None:
    """With OpenSSL's version-flexible method, a client offering 1.2-1.3 gets 1.3
    (RFC 8446 section 4.2.1, supported_versions); one offering only TLS 1.0/1.1
    (RFC 8996 deprecates them) is refused. Left at PJSIP's default ``method``, the SIP
    transport would speak TLS 1.0 only."""
    address = ("127.0.0.1", getattr(far.options, port))
    modern = ssl.create_default_context(cafile=pki.ca)
    with socket.create_connection(address, 5) as sock, \
            modern.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
        assert tls.version() == "TLSv1.3"
    legacy = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    legacy.load_verify_locations(pki.ca)
    legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
    legacy.minimum_version = ssl.TLSVersion.TLSv1
    legacy.maximum_version = ssl.TLSVersion.TLSv1_1
    # The server's protocol_version alert (RFC 8446 section 6.2), not a local failure.
    with socket.create_connection(address, 5) as sock, \
            pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"):
        legacy.wrap_socket(sock, server_hostname="127.0.0.1").close()


class Dumpcap:
    """dumpcap on ``lo`` with a capture filter, into a pcap file read at the end.

    dumpcap says "Capturing on" a moment before packets reach its file, and writes the
    last ones a moment after they passed: a marker datagram to ``marker_port`` (within
    the filter) is waited for in the file at both ends, so the capture holds everything
    in between.
    """

    def __init__(self, path: Path, capture_filter: str, marker_port: int) -> None:
        self.path = path
        self.filter = capture_filter
        self.marker_port = marker_port
        self._markers = 0
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Dumpcap:
        dumpcap = shutil.which("dumpcap")
        if dumpcap is None:
            pytest.fail("dumpcap is not installed (scripts/setup.sh installs tshark)")
        self._process = await asyncio.create_subprocess_exec(
            dumpcap, "-i", "lo", "-f", self.filter, "-P", "-w", str(self.path),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        assert self._process.stderr is not None
        seen = b""
        while b"Capturing on" not in seen:
            line = await asyncio.wait_for(self._process.stderr.readline(), 10)
            assert line, f"dumpcap did not start: {seen!r}"
            seen += line
        await self._mark()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._process is not None
        await self._mark()
        self._process.send_signal(signal.SIGINT)
        await asyncio.wait_for(self._process.wait(), 10)

    async def _mark(self, timeout: float = 5.0) -> None:
        self._markers += 1
        marker = b"\x00voxtra-tls-capture-%d" % self._markers  # RTP version 0: skipped
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while loop.time() < deadline:
                sock.sendto(marker, ("127.0.0.1", self.marker_port))
                await asyncio.sleep(0.05)
                with contextlib.suppress(FileNotFoundError):
                    if marker in self.path.read_bytes():
                        return
        raise AssertionError("dumpcap wrote no packet to its file")

    def tcp_payloads(self, port: int) -> list[tuple[bool, bytes]]:
        """The TCP payloads to (True) and from (False) ``port``, in capture order."""
        data = self.path.read_bytes()
        assert data[:4] == b"\xd4\xc3\xb2\xa1", "expected a little-endian classic pcap"
        (linktype,) = struct.unpack_from("<I", data, 20)
        assert linktype == 1, "expected Ethernet framing on lo"
        payloads = []
        offset = 24
        while offset + 16 <= len(data):
            length = struct.unpack_from("<I", data, offset + 8)[0]
            ip = data[offset + 16 + 14:offset + 16 + length]
            offset += 16 + length
            if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
                continue
            tcp = ip[(ip[0] & 0x0F) * 4:]
            source, destination = struct.unpack_from("!HH", tcp, 0)
            payload = tcp[(tcp[12] >> 4) * 4:]
            if payload and port in (source, destination):
                payloads.append((destination == port, payload))
        return payloads


@pytest.fixture
async def peer_events(peer: AsteriskSandbox, pki: Pki) -> AsyncIterator[EventLog]:
    state = _state(peer)
    client = AriClient(state.ari_url, state.ari_user, state.ari_password, ca_file=pki.ca)
    log = EventLog(client, state.app_name)
    await log.start()
    yield log
    await log.stop()
    await client.close()


async def test_a_call_over_sip_tls_with_sdes_srtp_reaches_the_app(
        far: AsteriskSandbox, peer: AsteriskSandbox, peer_events: EventLog, pki: Pki,
        tmp_path: Path) -> None:
    """The peer dials the far end's TLS transport through its tls-peer endpoint
    (``;transport=tls``, verify_server against the test CA); the far end identifies it by
    address as its tls-peer, whose media_encryption = sdes refuses plain RTP. The far
    end's channel functions say TLS and SRTP; on the wire the SIP is TLS records only
    and the RTP payload is encrypted silence with an authentication tag."""
    far_state, peer_state = _state(far), _state(peer)
    tls_port = far.options.sip_tls_port
    app = VoxtraApp(_settings(far_state, pki.ca))
    seen: dict[str, str | None] = {}
    done = asyncio.Event()

    @app.route(did="200")
    async def secure_line(call: CallSession) -> None:
        await call.answer()
        for name in ("CHANNEL(pjsip,secure)", "CHANNEL(rtp,secure)",
                     "CHANNEL(pjsip,remote_addr)", "CHANNEL(pjsip,local_addr)",
                     "CHANNEL(rtp,src)", "CHANNEL(endpoint)"):
            seen[name] = await app.client.channels.get_variable(call.id, name)
        with contextlib.suppress(TimeoutError):  # 1.5 s of PCMU silence to the peer
            await asyncio.wait_for(call.play_file("sound:silence/10"), 1.5)
        await call.hangup()
        done.set()

    capture_filter = (f"tcp port {tls_port} or udp portrange "
                      f"{far.options.rtp_start}-{far.options.rtp_end}")
    async with app, Dumpcap(tmp_path / "call.pcap", capture_filter,
                            far.options.rtp_end) as capture:
        channel = await peer_events.stream.client.channels.originate(
            f"PJSIP/tls-peer/sip:200@127.0.0.1:{tls_port};transport=tls",
            app=peer_state.app_name)
        await asyncio.wait_for(done.wait(), 20)
        await peer_events.wait_for("ChannelDestroyed", lambda e: e.channel.id == channel.id)

    # The far end: signalling over TLS, on its TLS transport, from the peer; media SRTP.
    assert seen["CHANNEL(endpoint)"] == "tls-peer"
    assert seen["CHANNEL(pjsip,secure)"] == "1"
    assert seen["CHANNEL(rtp,secure)"] == "1"
    assert seen["CHANNEL(pjsip,local_addr)"] == f"127.0.0.1:{tls_port}"
    assert (seen["CHANNEL(pjsip,remote_addr)"] or "").startswith(f"{PEER_ADDRESS}:")

    # The wire, SIP: the connection opens with TLS handshake records both ways and no
    # SIP text crosses it.
    stream = capture.tcp_payloads(tls_port)
    assert stream, "no TCP to the TLS port was captured"
    first_in = next(payload for to_far, payload in stream if to_far)
    first_out = next(payload for to_far, payload in stream if not to_far)
    assert first_in[0] == 22 and first_in[1] == 3  # ClientHello record
    assert first_out[0] == 22 and first_out[1:3] == b"\x03\x03"  # ServerHello (1.2/1.3)
    assert not any(b"SIP/2.0" in payload or b"INVITE" in payload for _, payload in stream)

    # The wire, media: what the far end sent from its RTP port.
    rtp_port = int((seen["CHANNEL(rtp,src)"] or "").rsplit(":", 1)[1])
    sent = [c.packet for c in read_pcap_rtp(capture.path.read_bytes(), rtp_port)
            if not c.received]
    assert len(sent) >= 40, f"{len(sent)} RTP packets in 1.5 s"
    tags = {len(packet.payload) - 160 for packet in sent}
    assert tags <= {10, 4}, f"payload sizes {sorted(t + 160 for t in tags)}, not PCMU+tag"
    distinct = sorted(len(set(packet.payload)) for packet in sent)
    assert distinct[len(distinct) // 2] > 90, distinct  # silence in the clear: a few values


def test_the_private_key_is_readable_by_asterisk_alone(far: AsteriskSandbox) -> None:
    """docs/security.md: "The private key must be readable by the user Asterisk runs
    as, and by nobody else" (and Asterisk, serving TLS above, could read it)."""
    tls = far.host_path(far.instance / "tls")
    uid = next(int(line.split(":")[2])
               for line in far.host_path("/etc/passwd").read_text().splitlines()
               if line.startswith("asterisk:"))
    key, cert = (tls / "key.pem").stat(), (tls / "cert.pem").stat()
    assert key.st_uid == uid and key.st_mode & 0o777 == 0o600
    assert cert.st_uid == uid and cert.st_mode & 0o777 == 0o644
    # ...and that user is the one the running Asterisk (which serves TLS with it) is.
    status = Path(f"/proc/{_state(far).pid}/status").read_text()
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(map(int, uids)) == {uid}
