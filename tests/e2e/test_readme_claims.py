"""What README.md says the framework does, checked where the caller (or Asterisk) is.

Each test quotes the claim it checks. Evidence comes from the far end: the RTP the SIP
caller received (``dumpcap`` capture: μ-law payload type 0, capture times in seconds),
the SIP messages SIPp saw, and Asterisk's own state through ARI.

Protocol facts relied on: a μ-law frame of a pure tone has that tone as its strongest
frequency; Asterisk sends no audible RTP to a channel in Stasis that nothing plays to
(music on hold stopped: silence or no packets); a BYE the caller receives means the far
end hung up; a SIP 404 to an INVITE becomes Q.850 cause 1 (unallocated number) in
chan_pjsip; ARI ``recording:NAME`` plays a stored recording and ``GET /recordings/stored``
lists them.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import sys
import textwrap
import time
import uuid
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from voxtra import CallSession, Outcome, PlaybackError, VoxtraApp
from voxtra.ari.client import AriClient
from voxtra.ari.errors import NotFoundError
from voxtra.handlers import announce
from voxtra.media.g711 import ulaw_decode, ulaw_encode
from voxtra.sandbox import rootfs
from voxtra.sandbox.asterisk import SandboxState
from voxtra.sandbox.audio import (
    audible_spans,
    dominant_frequency,
    rms,
    tone,
    tone_packets,
    write_ulaw_wav,
)
from voxtra.sandbox.capture import CapturedPacket
from voxtra.sandbox.ports import free_port
from voxtra.sandbox.prompts import PromptServer, wav_bytes
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller
from voxtra.settings import VoxtraSettings
from voxtra.testing.apps import AppProcess

REPO = Path(__file__).parents[2]


# Helpers --------------------------------------------------------------------------


def tone_frames(wav: bytes, frequency: float) -> int:
    """How many 20 ms frames of a WAV file (8 kHz, 16-bit) ``tone_packets`` would take
    for ``frequency``, were they sent as μ-law packets."""
    with wave.open(io.BytesIO(wav)) as audio:
        assert audio.getframerate() == 8000 and audio.getsampwidth() == 2
        pcm = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
    frames = [ulaw_decode(ulaw_encode(pcm[i:i + 160])) for i in range(0, len(pcm) - 159, 160)]
    return sum(1 for f in frames
               if rms(f) > 300 and abs(dominant_frequency(f) - frequency) <= 60)


def tone_spans(captured: Iterable[CapturedPacket], frequency: float,
               gap: float = 0.3) -> list[tuple[float, float]]:
    """When the caller heard ``frequency``: (start, end) capture times of each stretch."""
    return audible_spans(tone_packets(captured, frequency), received=True, gap=gap)


async def wait_idle(app: VoxtraApp, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while app.calls:
            await asyncio.sleep(0.05)


def script_env(**extra: str) -> dict[str, str]:
    """This process's environment without any VOXTRA_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXTRA_")}
    env.update(extra)
    return env


# Settings -------------------------------------------------------------------------

DOTENV_APP = textwrap.dedent("""
    import logging
    from voxtra import CallSession, VoxtraApp

    logging.basicConfig(level=logging.INFO)
    app = VoxtraApp()          # settings from VOXTRA_* variables or .env

    @app.route(did="4401")
    async def hello(call: CallSession) -> None:
        await call.answer()
        await call.play_file("sound:beep")
        await call.hangup()

    app.run()
""")


async def test_settings_come_from_a_dotenv_file(voxtra_settings: VoxtraSettings,
                                                sip_caller: SipCaller,
                                                tmp_path: Path) -> None:
    """README: ``app = VoxtraApp()  # settings from VOXTRA_* variables or .env``.

    The app runs with no VOXTRA_* variable at all, in a directory whose ``.env`` names
    the sandbox's ARI URL, user, password and app name (the defaults could not reach it:
    another port, another password). Evidence: the call is answered, the caller hears
    the prompt and gets the app's BYE (SIP and RTP at the caller)."""
    (tmp_path / ".env").write_text(
        f"VOXTRA_ARI_URL={voxtra_settings.ari_url}\n"
        f"VOXTRA_ARI_USER={voxtra_settings.ari_user}\n"
        f"VOXTRA_ARI_PASSWORD={voxtra_settings.ari_password.get_secret_value()}\n"
        f"VOXTRA_APP_NAME={voxtra_settings.app_name}\n")
    (tmp_path / "app.py").write_text(DOTENV_APP)
    app = AppProcess(await asyncio.create_subprocess_exec(
        sys.executable, "app.py", cwd=tmp_path, env=script_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT))
    try:
        await app.wait_for(b"event stream", timeout=20)
        result = await sip_caller.call(CallerScript("4401", capture_audio=True))
    finally:
        status = await app.stop()
    assert status == 0, b"".join(app.lines).decode(errors="replace")
    assert result.succeeded and result.answered and result.hung_up_by_remote, result.stderr
    assert rms(result.heard()) > 300  # the beep


# play_file --------------------------------------------------------------------------


async def test_play_file_of_a_stored_recording_is_heard(voxtra_settings: VoxtraSettings,
                                                        sip_caller: SipCaller,
                                                        ari: AriClient,
                                                        tmp_path: Path) -> None:
    """README: ``call.play_file`` plays a prompt given as ``recording:`` (as well as
    ``sound:``, ``tone:`` and URLs) and returns when it has finished.

    A first caller sends a 700 Hz tone, which the app records into a stored recording
    (ARI ``POST /channels/{id}/record``); a second caller is played
    ``recording:NAME``. Evidence: the stored recording exists in Asterisk, and the
    second caller's received RTP carries its 700 Hz tone, every frame of it (counted),
    no more than was sent."""
    name = f"readme-{uuid.uuid4().hex[:10]}"
    spoken = write_ulaw_wav(tmp_path / "tone.wav", tone(700, 2.5))
    played: list[bool] = []
    stored: list[bytes] = []
    app = VoxtraApp(voxtra_settings)

    @app.route(did="4411")
    async def record(call: CallSession) -> None:
        await call.answer()
        await app.client.channels.record(call.id, name, "wav", max_duration=2)
        await call.wait_ended()

    @app.route(did="4412")
    async def play_back(call: CallSession) -> None:
        await call.answer()
        played.append(await call.play_file(f"recording:{name}"))
        await call.hangup()

    try:
        async with app:
            first = await sip_caller.call(CallerScript("4411", audio=spoken, hangup_after=3))
            await wait_idle(app)
            async with asyncio.timeout(10):  # the recording is finished and stored
                while name not in {r.name for r in await ari.recordings.list_stored()}:
                    await asyncio.sleep(0.1)
            second = await sip_caller.call(CallerScript("4412", capture_audio=True))
            await wait_idle(app)
            stored.append(await ari.recordings.download(name))
    finally:
        await ari.recordings.delete_stored(name)
    assert first.succeeded, first.stderr
    assert second.succeeded and second.hung_up_by_remote, second.stderr
    assert played == [True]
    heard = tone_packets(second.captured, 700)
    recorded = tone_frames(stored[0], 700)
    # The recording holds the caller's tone, no more of it than was sent (2.5 s, which
    # SIPp sends after its file's 58-byte header: 126 packets) ...
    assert 0 < recorded <= 126, recorded
    # ... and the second caller heard all of it, frame for frame (the last one may be
    # lost to the hangup that follows at once).
    assert recorded - 1 <= len(heard) <= recorded, (len(heard), recorded)


PROMPT_SECONDS = 30.0


async def test_play_file_returns_when_the_caller_hangs_up_mid_prompt(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller) -> None:
    """README: ``play_file`` "returns when it has finished, or when the call ends".

    The prompt is a 30 s tone (a WAV served over HTTP on 127.0.0.1); the caller hangs
    up after 1.5 s. Evidence: the caller heard the prompt's 600 Hz (so it was playing)
    and its BYE was answered; ``play_file`` returned after the last RTP packet the
    caller received, long before the prompt's end; Asterisk has no channel left (ARI)."""
    began: list[float] = []
    returned: list[float] = []
    outcome: list[bool] = []
    app = VoxtraApp(voxtra_settings)
    async with PromptServer({"long": wav_bytes(tone(600, PROMPT_SECONDS))}) as server:

        @app.route(did="4421")
        async def long_prompt(call: CallSession) -> None:
            await call.answer()
            began.append(time.time())
            outcome.append(await call.play_file(server.of("long")))
            returned.append(time.time())

        async with app:
            result = await sip_caller.call(
                CallerScript("4421", hangup_after=1.5, capture_audio=True))
            await wait_idle(app)
            channels = await app.client.channels.list()
    assert result.succeeded and not result.hung_up_by_remote, result.stderr
    heard = tone_packets(result.captured, 600)
    assert len(heard) * 0.02 >= 0.5, len(heard)
    last_packet = max(c.time for c in result.captured if c.received)
    assert len(returned) == 1 and outcome == [False]  # False: the call ended
    when = returned[0]
    # After the caller's audio stopped (capture times and time.time() share the system
    # clock), long before the 30 s prompt could have ended.
    assert began[0] < last_packet <= when < began[0] + PROMPT_SECONDS, \
        (began[0], last_packet, when)
    assert channels == []


async def test_play_file_of_a_sound_that_is_not_there_is_an_error(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller) -> None:
    """A prompt Asterisk cannot play raises PlaybackError rather than passing for
    played. Protocol fact relied on: Asterisk ends such a playback with
    ``PlaybackFinished`` in state ``failed``; the call stays up."""
    raised: list[BaseException] = []
    app = VoxtraApp(voxtra_settings)

    @app.route(did="4422")
    async def missing(call: CallSession) -> None:
        await call.answer()
        try:
            await call.play_file("sound:no-such-prompt-anywhere")
        except PlaybackError as exc:
            raised.append(exc)
        await call.play_file("sound:beep")  # the call goes on
        await call.hangup()

    async with app:
        result = await sip_caller.call(CallerScript("4422", wait_for_bye=10))
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    assert len(raised) == 1 and "no-such-prompt-anywhere" in str(raised[0])


# menu ---------------------------------------------------------------------------------


async def test_menu_gives_up_after_its_tries(voxtra_settings: VoxtraSettings,
                                            sip_caller: SipCaller) -> None:
    """README: ``await call.menu("sound:...", "123", tries=3)``: "one key out of a set,
    with retries". Its docstring: a key outside the options plays ``invalid`` and asks
    again, up to ``tries`` times; it returns the key, or None.

    The prompt is a 500 Hz tone, ``invalid`` a 1500 Hz one (WAVs over HTTP). The caller
    presses 9 (not an option, SIP INFO) during the first prompt, then nothing. Evidence
    at the caller: the prompt is heard exactly ``tries`` (3) times, the invalid-key
    prompt once, after the first; then the app's BYE (the handler hangs up once
    ``menu`` returned None)."""
    chosen: list[str | None] = []
    app = VoxtraApp(voxtra_settings)
    prompts = {"ask": wav_bytes(tone(500, 2.0)), "invalid": wav_bytes(tone(1500, 0.8))}
    async with PromptServer(prompts) as server:

        @app.route(did="4431")
        async def choose(call: CallSession) -> None:
            await call.answer()
            chosen.append(await call.menu(server.of("ask"), "12", tries=3, timeout=1.5,
                                          invalid=server.of("invalid")))
            await call.hangup()

        async with app:
            result = await sip_caller.call(CallerScript(
                "4431", dtmf="9", dtmf_delay=1.0, wait_for_bye=30, capture_audio=True))
            await wait_idle(app)
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    asked = tone_spans(result.captured, 500)
    invalid = tone_spans(result.captured, 1500)
    assert len(asked) == 3, asked
    assert len(invalid) == 1, invalid
    # The key cut the first prompt, and the invalid prompt followed at once (a packet of
    # the one may reach the caller a frame after the other began: 0.1 s of slack).
    assert asked[0][1] - 0.1 <= invalid[0][0] <= asked[1][0]
    # ... before its end: fewer of its frames reached the caller than of the next one,
    # which played whole (no key then).
    frames = [sum(1 for c in tone_packets(result.captured, 500) if start <= c.time < end)
              for start, end in asked]
    assert frames[0] < frames[1], frames
    assert chosen == [None]


# hold / unhold ----------------------------------------------------------------------


async def test_unhold_stops_the_music(voxtra_settings: VoxtraSettings,
                                      sip_caller: SipCaller) -> None:
    """README: ``await call.hold()`` / ``await call.unhold()``: music on hold.

    The app holds the caller for 3 s, unholds, waits 2.5 s, then plays a 1000 Hz marker
    tone. Evidence in the caller's capture: audible music during the hold; after the
    music, 2 s or more with nothing audible before the marker (were the music still on,
    it would run up to the marker)."""
    app = VoxtraApp(voxtra_settings)
    async with PromptServer({"marker": wav_bytes(tone(1000, 1.0))}) as server:

        @app.route(did="4441")
        async def hold_then_release(call: CallSession) -> None:
            await call.answer()
            await call.hold()
            await asyncio.sleep(3.0)
            await call.unhold()
            await asyncio.sleep(2.5)
            await call.play_file(server.of("marker"))
            await call.hangup()

        async with app:
            result = await sip_caller.call(CallerScript("4441", capture_audio=True,
                                                        wait_for_bye=20))
            await wait_idle(app)
    assert result.succeeded and result.hung_up_by_remote, result.stderr
    marker = tone_spans(result.captured, 1000)
    assert len(marker) == 1, marker
    before_marker = [c for c in result.captured if c.time < marker[0][0] - 0.1]
    music = audible_spans(before_marker, received=True, level=50.0)
    assert music, "no music on hold was heard"
    assert sum(end - start for start, end in music) >= 1.5, music  # the 3 s hold
    assert marker[0][0] - music[-1][1] >= 2.0, (music, marker)


# originate ----------------------------------------------------------------------------


class RefusingSipPeer(asyncio.DatagramProtocol):
    """A SIP user agent on UDP that refuses every INVITE with 404 (and notes the
    requests it got)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode(errors="replace")
        head, _, _ = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.requests.append(lines[0])

        if not lines[0].startswith("INVITE ") or self.transport is None:
            return
        keep = [line for line in lines[1:]
                if line.split(":", 1)[0].strip().lower() in ("via", "from", "call-id", "cseq")]
        to = next(line for line in lines[1:] if line.lower().startswith("to:"))
        if ";tag=" not in to:
            to += ";tag=refuser"
        reply = "\r\n".join(["SIP/2.0 404 Not Found", *keep, to, "Content-Length: 0", "", ""])
        self.transport.sendto(reply.encode(), addr)


async def test_originate_outcome_failed(voxtra_settings: VoxtraSettings,
                                        ari: AriClient) -> None:
    """README: ``await app.originate("PJSIP/...", handler=...)``: "an outbound call;
    ``await call.outcome`` is answered, busy, no answer or failed". The originate
    docstring: ``call.hangup_cause`` is then the Q.850 cause of the failure.

    The app dials a SIP URI whose user agent refuses the INVITE with 404 Not Found.
    Evidence: the far end received the INVITE (and the ACK of its 404); the outcome is
    failed with cause 1 (unallocated: chan_pjsip's mapping of 404), never busy or no
    answer; the handler never ran; Asterisk holds no channel of that call (ARI)."""
    loop = asyncio.get_running_loop()
    peer = RefusingSipPeer()
    port = free_port(socket.SOCK_DGRAM)
    transport, _ = await loop.create_datagram_endpoint(lambda: peer,
                                                       local_addr=("127.0.0.1", port))
    handled: list[CallSession] = []
    app = VoxtraApp(voxtra_settings)

    async def greet(call: CallSession) -> None:
        handled.append(call)

    try:
        async with app:
            call = await app.originate(f"PJSIP/loopback/sip:nobody@127.0.0.1:{port}",
                                       handler=greet, timeout=10)
            outcome = await asyncio.wait_for(asyncio.shield(call.outcome), 15)
            await asyncio.wait_for(call.wait_ended(), 10)
            async with asyncio.timeout(5):
                while not any(r.startswith("ACK ") for r in peer.requests):
                    await asyncio.sleep(0.05)
            with pytest.raises(NotFoundError):
                await ari.channels.get(call.id)
    finally:
        transport.close()
    assert any(r.startswith("INVITE sip:nobody@127.0.0.1") for r in peer.requests)
    assert outcome is Outcome.FAILED
    assert call.hangup_cause == 1
    assert handled == []


# handlers.announce ---------------------------------------------------------------------


async def test_announce_handler_plays_each_prompt_then_hangs_up(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller) -> None:
    """README: "``voxtra.handlers`` has ready-made ``echo`` and ``announce(...)``
    handlers"; ``announce(*media)`` answers, plays the media in turn to the end, and
    hangs up (its docstring).

    ``announce`` of a 1 s 450 Hz prompt then a 1 s 1350 Hz prompt. Evidence at the
    caller: answered; heard 450 Hz then 1350 Hz, each to about its full length, in that
    order; then the app's BYE, after the second prompt."""
    app = VoxtraApp(voxtra_settings)
    prompts = {"first": wav_bytes(tone(450, 1.0)), "second": wav_bytes(tone(1350, 1.0))}
    async with PromptServer(prompts) as server:
        app.route(did="4451")(announce(server.of("first"), server.of("second")))
        async with app:
            result = await sip_caller.call(CallerScript("4451", capture_audio=True))
            await wait_idle(app)
    assert result.succeeded and result.answered and result.hung_up_by_remote, result.stderr
    first = tone_packets(result.captured, 450)
    second = tone_packets(result.captured, 1350)
    assert len(first) * 0.02 >= 0.85 and len(second) * 0.02 >= 0.85, (len(first), len(second))
    assert max(c.time for c in first) <= min(c.time for c in second)


# The demo and the example --------------------------------------------------------------


async def test_voxtra_demo_calls_the_hello_example_through_its_own_sandbox() -> None:
    """README: "``voxtra demo`` starts the sandbox Asterisk 22, loads
    ``examples/hello.py``, and has SIPp call number 100 through Asterisk. [...] the
    handler answers, plays ``hello-world`` to its end and hangs up; the demo prints what
    the SIP caller saw (answered, final status, who hung up, how long the call lasted)."

    The command runs as a user runs it, from the checkout, on a sandbox instance of its
    own (``--name`` and free ports: the test session's sandbox is not touched). Evidence:
    its report of the SIPp call (answered, 200, hung up by the app, a duration as long
    as the prompt), its exit status, and that the instance it started is stopped
    afterwards (its ARI port refuses connections)."""
    name = f"demo-{uuid.uuid4().hex[:8]}"
    ari_port = free_port(socket.SOCK_STREAM)
    sip_port = free_port(socket.SOCK_DGRAM)
    voxtra = Path(sys.executable).parent / "voxtra"
    try:
        process = await asyncio.create_subprocess_exec(
            str(voxtra), "demo", "--name", name, "--ari-port", str(ari_port),
            "--sip-port", str(sip_port), cwd=REPO, env=script_env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(process.communicate(), 120)
    finally:
        (rootfs.default_root().parent / f"sandbox-{name}.password").unlink(missing_ok=True)
    report = out.decode(errors="replace")
    assert process.returncode == 0, report
    lines = {k.strip(): v.strip() for k, _, v in
             (line.partition(":") for line in report.splitlines()) if v}
    assert f"127.0.0.1:{ari_port}" in report  # it called through its own instance
    assert lines["answered"] == "yes", report
    assert lines["final SIP status"] == "200", report
    assert lines["hung up by"] == "the app", report
    lasted = float(lines["call lasted"].removesuffix(" s"))
    assert 1.0 < lasted < 10.0, report  # hello-world is about 1.2 s long
    assert "Demo call OK." in report
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", ari_port))


async def test_the_hello_example_answers_plays_hello_world_and_hangs_up(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller,
        sandbox_state: SandboxState) -> None:
    """README: ``examples/hello.py`` (the README's first example): the handler
    "answers, plays ``hello-world`` to its end and hangs up"; ``app.run()`` runs
    "until SIGTERM/SIGINT".

    The example runs unchanged as its own process (INFO logging switched on to see it
    connect), connected to the test sandbox by VOXTRA_* variables. Evidence at the
    caller: answered; about 1 s or more of audible prompt; then the app's BYE, after the
    audio; the process exits 0 on SIGTERM."""
    runner = ("import logging, runpy; logging.basicConfig(level=logging.INFO); "
              f"runpy.run_path({str(REPO / 'examples' / 'hello.py')!r}, run_name='__main__')")
    env = script_env(VOXTRA_ARI_URL=voxtra_settings.ari_url,
                     VOXTRA_ARI_USER=voxtra_settings.ari_user,
                     VOXTRA_ARI_PASSWORD=voxtra_settings.ari_password.get_secret_value(),
                     VOXTRA_APP_NAME=sandbox_state.app_name)
    app = AppProcess(await asyncio.create_subprocess_exec(
        sys.executable, "-c", runner, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT))
    try:
        await app.wait_for(b"event stream", timeout=20)
        result = await sip_caller.call(CallerScript("100", capture_audio=True))
    finally:
        status = await app.stop()
    assert status == 0, b"".join(app.lines).decode(errors="replace")
    assert result.succeeded and result.answered and result.hung_up_by_remote, result.stderr
    spans = audible_spans(result.captured, received=True)
    assert spans and sum(end - start for start, end in spans) >= 0.8, spans
    heard = result.heard()
    assert len(heard) and float(np.abs(heard).max()) > 3000
