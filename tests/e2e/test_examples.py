"""The examples the README points to, run as users run them, with real calls through the
sandbox Asterisk.

``examples/cloud_agent.py`` and ``examples/realtime_agent.py`` run unchanged as processes
of their own (``runpy`` as ``__main__``, with logging switched on to see them connect and
to read what they log), configured only by environment variables: the sandbox's
``VOXTRA_*`` and each cloud service's key and base URL, which point the real SDKs at local
servers speaking the services' protocols. ``voxtra demo --agent`` runs as the installed
command, on a sandbox instance of its own (its own ``--name`` and ports: the test
session's sandbox is not touched).

Protocol facts relied on:

* those of :mod:`voxtra.testing.services.deepgram` (``/v1/listen`` websocket, options in the
  query, ``Authorization: Token``, ``linear16`` audio as binary frames),
  :mod:`voxtra.testing.services.openai` (streamed chat completions under ``/v1``, ``Bearer``
  key), :mod:`voxtra.testing.services.elevenlabs` (``POST /v1/text-to-speech/{voice}/stream``,
  ``xi-api-key``, raw ``pcm_16000``) and :mod:`voxtra.testing.services.openai_realtime`
  (``/v1/realtime`` websocket, server VAD, ``audio/pcmu`` deltas, function calls answered
  with a ``function_call_output`` item); the ElevenLabs and Realtime fakes speak a 440 Hz
  tone ``seconds_per_char`` long per character of the text, which is how the caller's
  audio is matched to the text that was spoken (Whisper would hear no words in a tone);
* the ``openai`` SDK takes its base URL from ``OPENAI_BASE_URL`` when none is passed;
  neither the Deepgram nor the ElevenLabs SDK reads one from the environment (the cloud
  example reads ``DEEPGRAM_BASE_URL`` and ``ELEVENLABS_BASE_URL`` itself);
* SIPp streams the caller's WAV as μ-law (payload type 0) and the capture holds both
  directions with their capture times; a μ-law frame of a pure tone has that tone as its
  strongest frequency; a 20 ms packet is 0.02 s of audio.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import socket
import sys
import uuid
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from voxtra.cli import main
from voxtra.sandbox import rootfs
from voxtra.sandbox.audio import audible_spans, speech_wav, tone_packets
from voxtra.sandbox.capture import CapturedPacket
from voxtra.sandbox.ports import free_port
from voxtra.sandbox.scenarios import CallerScript
from voxtra.sandbox.sipp import SipCaller, SippResult
from voxtra.settings import VoxtraSettings
from voxtra.testing.apps import AppProcess
from voxtra.testing.services.deepgram import FakeDeepgram
from voxtra.testing.services.elevenlabs import FakeElevenLabs
from voxtra.testing.services.openai import FakeOpenAI
from voxtra.testing.services.openai_realtime import FakeRealtime, ToolCallReply
from voxtra.voice.providers.piper import PiperTTS

REPO = Path(__file__).parents[2]
EXAMPLES = REPO / "examples"
#: Both examples greet with this (their ``greeting``).
GREETING = "Thanks for calling Acme. How can I help?"
QUESTION = "What time does the store open on Saturday?"
#: The local servers' tone (:mod:`voxtra.testing.services.elevenlabs` and
#: :mod:`voxtra.testing.services.openai_realtime`).
FAKE_VOICE_HZ = 440.0
#: Environment variables of the services, left out of the examples' environment unless the
#: test sets them (a developer's real key or base URL must not leak in).
SERVICE_PREFIXES = ("VOXTRA_", "OPENAI_", "DEEPGRAM_", "ELEVENLABS_")


# Helpers --------------------------------------------------------------------------


def example_env(settings: VoxtraSettings | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without any service variable, plus the sandbox's
    ``VOXTRA_*`` (when ``settings`` are given) and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_PREFIXES)}
    if settings is not None:
        env.update(VOXTRA_ARI_URL=settings.ari_url, VOXTRA_ARI_USER=settings.ari_user,
                   VOXTRA_ARI_PASSWORD=settings.ari_password.get_secret_value(),
                   VOXTRA_APP_NAME=settings.app_name)
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


async def start_example(name: str, env: dict[str, str], cwd: Path) -> AppProcess:
    """``examples/NAME`` run unchanged as ``__main__`` in a process of its own, with
    logging on (level names shown); ready once its ARI event stream is connected."""
    runner = ("import logging, runpy; logging.basicConfig(level=logging.INFO, "
              "format='%(levelname)s %(name)s: %(message)s'); "
              f"runpy.run_path({str(EXAMPLES / name)!r}, run_name='__main__')")
    app = AppProcess(await asyncio.create_subprocess_exec(
        sys.executable, "-c", runner, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT))
    try:
        # Loading the models (Whisper, Piper, Silero, Smart Turn) comes first.
        await app.wait_for(b"event stream", timeout=120)
    except BaseException:
        await app.stop()
        raise
    return app


async def call_example(name: str, env: dict[str, str], cwd: Path, sip_caller: SipCaller,
                       script: CallerScript) -> tuple[SippResult, str]:
    """Run ``examples/NAME``, place ``script``'s call to it, stop it; the call's result
    and the app's output, once the app has exited 0 with no error in its output."""
    app = await start_example(name, env, cwd)
    try:
        result = await sip_caller.call(script, timeout=90)
    finally:
        status = await app.stop(timeout=30)
    output = b"".join(app.lines).decode(errors="replace")
    assert status == 0, output
    assert app.errors() == [], output
    assert result.succeeded and result.answered, result.stderr
    return result, output


def mixes(heard: np.ndarray, *hertz: int) -> bool:
    """The middle second of ``heard`` (8 kHz) holds each tone of ``hertz``: a mix, which
    :func:`~voxtra.sandbox.audio.tones` (one frequency per window) cannot tell."""
    middle = heard[len(heard) // 2:][:8000].astype(float)
    spectrum = np.abs(np.fft.rfft(middle))  # 1 Hz per bin
    return len(middle) == 8000 and all(spectrum[f] > 20 * np.median(spectrum) for f in hertz)


def question_span(result: SippResult) -> tuple[float, float]:
    """When the caller spoke: capture times of its first and last audible audio."""
    said = audible_spans(result.captured, received=False)
    assert said, "the caller sent no audible audio"
    return said[0][0], said[-1][1]


def tone_seconds(captured: Iterable[CapturedPacket], after: float = float("-inf"),
                 before: float = float("inf")) -> float:
    """Seconds of the fakes' 440 Hz voice the caller received between two capture times."""
    return 0.02 * sum(1 for c in tone_packets(captured, FAKE_VOICE_HZ)
                      if after <= c.time <= before)


def assert_heard_for(heard: float, text: str, seconds_per_char: float) -> None:
    """The caller heard about as much of the fake voice as ``text`` lasts in it."""
    expected = len(text) * seconds_per_char
    assert 0.7 * expected <= heard <= 1.3 * expected + 0.1, (heard, expected, text)


# examples/cloud_agent.py ------------------------------------------------------------

CLOUD_REPLY = "We open at nine in the morning on Saturdays."
ELEVENLABS_SECONDS_PER_CHAR = 0.04


async def test_the_cloud_agent_example_greets_hears_and_answers_a_caller(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, piper: PiperTTS,
        tmp_path: Path) -> None:
    """README: "``examples/cloud_agent.py`` is a cloud agent configured from environment
    variables"; its docstring: "Deepgram hears, an OpenAI model answers, ElevenLabs
    speaks", run with ``python examples/cloud_agent.py``.

    The example runs as its own process against the sandbox, its services' keys and base
    URLs (``OPENAI_BASE_URL``, ``DEEPGRAM_BASE_URL``, ``ELEVENLABS_BASE_URL``) pointing at
    the local fakes. A SIPp caller waits for the greeting, asks a question (Piper's
    voice) and hangs up after the reply. Evidence: Deepgram's fake received the caller's
    audio (``linear16`` 16 kHz, model ``nova-3``, as the example asks) and its transcript
    reached the model with the example's instructions; ElevenLabs was asked to say the
    example's greeting and then the model's scripted reply; the caller heard the
    greeting's tone before the question and the reply's after it, each as long as its
    text; the app logged no error and no traceback and exited 0 on SIGTERM."""
    wav = await speech_wav(tmp_path / "caller.wav", piper, 4.0, QUESTION, 10.0)
    async with FakeDeepgram(transcripts=[QUESTION], seconds_per_word=0.1) as deepgram, \
            FakeOpenAI([CLOUD_REPLY]) as openai, \
            FakeElevenLabs(seconds_per_char=ELEVENLABS_SECONDS_PER_CHAR) as elevenlabs:
        env = example_env(voxtra_settings,
                          DEEPGRAM_API_KEY=deepgram.api_key, DEEPGRAM_BASE_URL=deepgram.url,
                          OPENAI_API_KEY=openai.api_key, OPENAI_BASE_URL=openai.url,
                          ELEVENLABS_API_KEY=elevenlabs.api_key,
                          ELEVENLABS_BASE_URL=elevenlabs.url)
        result, output = await call_example("cloud_agent.py", env, tmp_path, sip_caller,
                                            CallerScript("100", audio=wav, capture_audio=True,
                                                         hangup_after=17))

    # Deepgram heard the caller, with the options the example gives.
    accepted = [c for c in deepgram.connections if c.accepted]
    assert accepted, deepgram.connections
    assert all(c.query["model"] == "nova-3" and c.query["encoding"] == "linear16"
               and c.query["sample_rate"] == "16000" for c in accepted)
    assert max(c.seconds for c in accepted) >= 1.5  # the question (about 2.5 s)
    # Its transcript went to the model, after the example's instructions.
    assert openai.requests, output
    request = openai.requests[0]
    assert request["model"] == "gpt-4o-mini"  # OPENAI_MODEL unset: the example's default
    assert request["messages"][0]["role"] == "system"
    assert "Acme shop" in request["messages"][0]["content"]
    assert request["messages"][-1] == {"role": "user", "content": QUESTION}
    # ElevenLabs said the greeting, then the model's reply.
    spoken = " ".join(r.text for r in elevenlabs.requests if r.text)
    assert spoken.startswith(f"{GREETING} {CLOUD_REPLY}"), spoken
    assert all(r.output_format == "pcm_16000" for r in elevenlabs.requests if r.text)

    # What the caller heard: the greeting before the question, the reply after it.
    asked, finished = question_span(result)
    assert_heard_for(tone_seconds(result.captured, before=asked), GREETING,
                     ELEVENLABS_SECONDS_PER_CHAR)
    assert_heard_for(tone_seconds(result.captured, after=finished), CLOUD_REPLY,
                     ELEVENLABS_SECONDS_PER_CHAR)


# examples/realtime_agent.py ---------------------------------------------------------

HOURS = "nine in the morning to six in the evening"  # opening_hours("Saturday") in the example
REALTIME_REPLY = "On Saturday we are open from {tool_output}."
REALTIME_SECONDS_PER_CHAR = 0.03


async def test_the_realtime_agent_example_greets_and_answers_with_its_tool(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, piper: PiperTTS,
        tmp_path: Path) -> None:
    """README: "``examples/realtime_agent.py`` is such an agent" (one on
    ``OpenAIRealtime``: "one model can hear the caller and answer with its own voice");
    its docstring: "the model hears the caller, decides when the turn is over and answers
    in its own voice", run with ``python examples/realtime_agent.py``; it greets and
    offers the ``opening_hours`` tool.

    The example runs as its own process against the sandbox, ``OPENAI_BASE_URL`` and
    ``OPENAI_API_KEY`` pointing the ``openai`` SDK at the local Realtime server. The
    scripted model greets, answers the caller's question with a call of
    ``opening_hours(day="Saturday")``, then speaks the tool's output. Evidence: the
    session the example configured (μ-law both ways, voice ``marin``, 600 ms of silence
    ends a turn, the Acme instructions, the tool offered); the greeting asked for is the
    example's; the model heard the caller (server VAD: speech started and stopped) and
    got the example's tool output back; the caller heard the greeting's tone before the
    question and the answer's after it, each as long as its text; the example's metrics
    callback printed a turn; no error, no traceback, exit 0 on SIGTERM."""
    wav = await speech_wav(tmp_path / "caller.wav", piper, 3.5, QUESTION, 8.0)
    async with FakeRealtime(
            replies=[GREETING, ToolCallReply("opening_hours", {"day": "Saturday"}),
                     REALTIME_REPLY],
            transcripts=[QUESTION], seconds_per_char=REALTIME_SECONDS_PER_CHAR) as server:
        env = example_env(voxtra_settings, OPENAI_API_KEY=server.api_key,
                          OPENAI_BASE_URL=server.url)
        result, output = await call_example("realtime_agent.py", env, tmp_path, sip_caller,
                                            CallerScript("100", audio=wav, capture_audio=True,
                                                         hangup_after=14.5))

    # The session as the example set it up.
    session = server.session
    audio = session["audio"]
    assert audio["input"]["format"]["type"] == audio["output"]["format"]["type"] == "audio/pcmu"
    assert audio["output"]["voice"] == "marin"
    assert audio["input"]["turn_detection"]["silence_duration_ms"] == 600
    assert "Acme shop" in session["instructions"]
    assert [tool["name"] for tool in session["tools"]] == ["opening_hours"]
    # The greeting asked for, the caller's turn, the tool's output, the answer.
    assert len(server.responses) >= 3, server.responses
    greeting, tool_call, answer = server.responses[:3]
    assert GREETING in greeting["request"]["instructions"]
    assert [kind for kind, _ in server.speech_events][:2] == ["started", "stopped"]
    assert tool_call["tool"] == "opening_hours" and tool_call["status"] == "completed"
    assert len(server.tool_outputs) == 1 and HOURS in server.tool_outputs[0]["output"]
    assert answer["text"] == REALTIME_REPLY.format(tool_output=server.tool_outputs[0]["output"])
    assert answer["status"] == "completed"

    # What the caller heard: the greeting before the question, the answer after it.
    asked, finished = question_span(result)
    assert_heard_for(tone_seconds(result.captured, before=asked), GREETING,
                     REALTIME_SECONDS_PER_CHAR)
    assert_heard_for(tone_seconds(result.captured, after=finished), answer["text"],
                     REALTIME_SECONDS_PER_CHAR)
    # The example prints each turn's metrics: ``call ID: TurnMetrics(...)``.
    assert re.search(r"^call \S+: ", output, re.MULTILINE), output


# voxtra demo --agent ----------------------------------------------------------------


async def test_voxtra_demo_agent_prints_what_the_caller_heard(tmp_path: Path) -> None:
    """README: "``.venv/bin/voxtra demo --agent`` then has a caller ask the offline AI
    agent (``examples/voice_agent.py``) a spoken question and prints what it heard back";
    "the demo prints the Whisper transcript of what the caller heard, the time from the
    end of the question to the first audio of the answer, and saves the audio to the file
    it names (...; ``--save FILE`` to choose)."

    The command runs as a user runs it, from a directory holding the checkout's
    ``examples/`` (so the WAV it saves lands there, not in the checkout), on a sandbox
    instance of its own (``--name`` and free ports). Its question is "What time do you
    open on Saturday?"; ``examples/voice_agent.py`` greets with "Thanks for calling Acme.
    How can I help?" and answers through its ``opening_hours`` tool: "On that day we are
    open from nine in the morning to five in the evening" (Saturday's hours; the other
    days' end at six in the evening or four in the afternoon). Evidence: exit status 0,
    no traceback; the transcript it prints holds words of the greeting and of that
    answer; it prints the time from the question to the answer; the WAV it saved holds
    audible audio; the instance it started is stopped when it exits (its ARI port
    refuses connections)."""
    name = f"examples-{uuid.uuid4().hex[:8]}"
    ari_port, sip_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    (tmp_path / "examples").symlink_to(EXAMPLES, target_is_directory=True)
    voxtra = Path(sys.executable).parent / "voxtra"
    try:
        process = await asyncio.create_subprocess_exec(
            str(voxtra), "demo", "--agent", "--name", name, "--ari-port", str(ari_port),
            "--sip-port", str(sip_port), "--save", "heard.wav", cwd=tmp_path, env=example_env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(process.communicate(), 240)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        with socket.socket() as probe:  # before the clean-up below: did it stop it?
            left_up = probe.connect_ex(("127.0.0.1", ari_port)) == 0
    finally:
        main(["sandbox", "down", "--name", name])  # only if the command left it up
        (rootfs.default_root().parent / f"sandbox-{name}.password").unlink(missing_ok=True)
    report = out.decode(errors="replace")
    assert process.returncode == 0, report
    assert "Traceback" not in report and "FAILED" not in report, report
    found = re.search(r"the caller heard \(transcribed with Whisper\): (.+)$", report,
                      re.MULTILINE)
    assert found, report
    heard = str(ast.literal_eval(found.group(1))).lower()
    # The greeting ("Acme" is left out: Whisper's tiny.en hears it as "that me").
    assert "thanks for calling" in heard and "help" in heard, heard
    assert re.search(r"\bopen\b", heard) and "morning" in heard, heard  # the answer
    assert re.search(r"\b(five|5) in the evening", heard), heard  # Saturday's closing time
    assert re.search(r"end of the caller's audio -> first audio back at the caller: "
                     r"\d+ ms", report), report
    assert "what the caller heard is in heard.wav" in report, report
    with wave.open(str(tmp_path / "heard.wav"), "rb") as saved:
        assert saved.getframerate() == 8000
        samples = np.frombuffer(saved.readframes(saved.getnframes()), "<i2")
    assert len(samples) > 8000 and int(np.abs(samples).max()) > 3000
    assert not left_up  # the sandbox it started is stopped


# examples/ivr_menu.py, voicemail.py, call_centre.py, campaign.py ------------------------


async def test_ivr_menu_takes_a_key_after_a_wrong_one(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    """``examples/ivr_menu.py``: the caller presses 9 (not an option: they hear why and
    the menu again), then 2: support."""
    result, output = await call_example(
        "ivr_menu.py", example_env(voxtra_settings), tmp_path, sip_caller,
        CallerScript("100", dtmf="92", dtmf_delay=1.5, capture_audio=True, wait_for_bye=30))
    assert result.hung_up_by_remote, result.stderr
    assert "ivr: caller chose support" in output, output
    assert len(audible_spans(result.captured, received=True)) >= 2  # menu, then more


async def test_voicemail_stores_the_message_when_the_caller_hangs_up(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    """``examples/voicemail.py``: a 4 s message (a tone), the caller hangs up; the file in
    ``voicemail/`` holds it."""
    from voxtra.sandbox.audio import tone, write_ulaw_wav

    wav = write_ulaw_wav(tmp_path / "message.wav", np.concatenate(
        [np.zeros(8000 * 6, np.int16), tone(440, 4.0)]))
    result, output = await call_example(
        "voicemail.py", example_env(voxtra_settings), tmp_path, sip_caller,
        CallerScript("100", audio=wav, hangup_after=10.5))
    assert not result.hung_up_by_remote, result.stderr  # the caller ended it
    assert "voicemail: caller hung up" in output, output
    stored = list((tmp_path / "voicemail").glob("*.wav"))
    assert len(stored) == 1, output
    with wave.open(str(stored[0])) as message:
        rate = message.getframerate()
        samples = np.frombuffer(message.readframes(message.getnframes()), "<i2")
    window = rate // 50
    frames = samples[:len(samples) // window * window].reshape(-1, window).astype(float)
    loud = np.sqrt((frames ** 2).mean(axis=1)) > 2000  # the tone's RMS is 5657
    assert 3.5 <= loud.sum() * 0.02 <= 4.6, loud.sum() * 0.02  # the message (and the beep)


async def test_call_centre_whispers_to_the_agent_then_connects(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    """``examples/call_centre.py``: the agent answers, hears who is calling (spoken by
    Piper) alone, then caller (440 Hz) and agent (300 Hz) hear each other."""
    from voxtra.sandbox.audio import tone, tones, write_ulaw_wav
    from voxtra.sandbox.scenarios import CalleeScript
    from voxtra.sandbox.sipp import SipCallee

    agent = SipCallee(CalleeScript("answer", ring_for=0.3, capture_audio=True,
                                   wait_for_bye=40,
                                   audio=write_ulaw_wav(tmp_path / "agent.wav",
                                                        tone(300, 20.0))))
    await agent.start()
    env = example_env(voxtra_settings, AGENT=f"PJSIP/loopback/{agent.uri}")
    result, output = await call_example(
        "call_centre.py", env, tmp_path, sip_caller,
        CallerScript("100", audio=write_ulaw_wav(tmp_path / "caller.wav", tone(440, 20.0)),
                     hangup_after=14, capture_audio=True))
    answered = await agent.result()
    assert answered.succeeded, answered.stderr
    assert "call-centre: caller connected to the agent" in output, output
    agent_heard, caller_heard = tones(answered.heard()), tones(result.heard())
    assert agent_heard.get(440, 0) >= 20 and caller_heard.get(300, 0) >= 20  # connected
    whisper = audible_spans(answered.captured, received=True)
    assert whisper and whisper[0][1] - whisper[0][0] >= 0.8  # "A call from 1000."


async def test_conference_room_mutes_its_listeners_and_records_the_room(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    """``examples/conference.py``, number 300: three callers (440, 300 and 800 Hz), the
    second a listener. The others never hear the listener, the listener hears them, and
    the room's recording is stored when the last one leaves."""
    from voxtra.sandbox.audio import tone, tones, write_ulaw_wav

    app = await start_example("conference.py", example_env(voxtra_settings,
                                                            LISTENERS="1002"), tmp_path)

    def party(caller_id: str, hertz: int) -> CallerScript:
        audio = write_ulaw_wav(tmp_path / f"{caller_id}.wav", tone(hertz, 12.0))
        return CallerScript("300", caller_id=caller_id, audio=audio, hangup_after=8,
                            capture_audio=True)

    try:
        a, b, c = await asyncio.gather(*(sip_caller.call(party(who, hertz), timeout=60)
                                         for who, hertz in (("1001", 440), ("1002", 300),
                                                            ("1003", 800))))
        for _ in range(200):  # stored once the last caller has left
            if (tmp_path / "recordings" / "standup.wav").exists():
                break
            await asyncio.sleep(0.1)
    finally:
        status = await app.stop(timeout=30)
    output = b"".join(app.lines).decode(errors="replace")
    assert status == 0 and app.errors() == [], output
    assert all(r.succeeded and r.answered for r in (a, b, c)), [r.stderr for r in (a, b, c)]
    heard = {who: tones(r.heard()) for who, r in (("a", a), ("b", b), ("c", c))}
    assert heard["a"].get(800, 0) >= 10 and 300 not in heard["a"], heard  # b is muted
    assert 300 not in heard["c"] and heard["c"].get(440, 0) >= 10, heard
    assert mixes(b.heard(), 440, 800)  # the listener hears both others
    assert (tmp_path / "recordings" / "standup.wav").exists(), output
    with wave.open(str(tmp_path / "recordings" / "standup.wav")) as recording:
        assert recording.getnframes() / recording.getframerate() >= 5.0


async def test_supervisor_listens_to_both_sides_of_the_support_line(
        voxtra_settings: VoxtraSettings, sip_caller: SipCaller, tmp_path: Path) -> None:
    """``examples/conference.py``, number 400: the caller (440 Hz) is connected to the
    agent (300 Hz); the supervisor (800 Hz) hears both and neither hears the supervisor."""
    from voxtra.sandbox.audio import tone, tones, write_ulaw_wav
    from voxtra.sandbox.scenarios import CalleeScript
    from voxtra.sandbox.sipp import SipCallee

    def callee(name: str, hertz: int) -> SipCallee:
        return SipCallee(CalleeScript("answer", capture_audio=True, wait_for_bye=40,
                                      audio=write_ulaw_wav(tmp_path / f"{name}.wav",
                                                           tone(hertz, 20.0))))

    agent, supervisor = callee("agent", 300), callee("supervisor", 800)
    for party in (agent, supervisor):
        await party.start()
    env = example_env(voxtra_settings, AGENT=f"PJSIP/loopback/{agent.uri}",
                      SUPERVISOR=f"PJSIP/loopback/{supervisor.uri}")
    result, _ = await call_example(
        "conference.py", env, tmp_path, sip_caller,
        CallerScript("400", audio=write_ulaw_wav(tmp_path / "caller.wav", tone(440, 20.0)),
                     hangup_after=8, capture_audio=True))
    by_agent, by_supervisor = await agent.result(), await supervisor.result()
    assert by_agent.succeeded and by_supervisor.succeeded, by_supervisor.stderr
    assert by_supervisor.hung_up_by_remote  # its leg ended with the call
    assert mixes(by_supervisor.heard(), 440, 300)
    caller_heard, agent_heard = tones(result.heard()), tones(by_agent.heard())
    assert caller_heard.get(300, 0) >= 10 and agent_heard.get(440, 0) >= 10
    assert 800 not in caller_heard and 800 not in agent_heard


@pytest.mark.parametrize("how", ["python", "voxtra campaign run"])
async def test_campaign_dials_its_csv_and_writes_the_results(
        voxtra_settings: VoxtraSettings, tmp_path: Path, how: str) -> None:
    """``examples/campaign.py`` with a CSV of two contacts (in a time zone where it is
    now mid-afternoon, inside the calling window): both answered, reminded, and the
    results file says so; run as a script, or by ``voxtra campaign run`` (its progress
    lines, printed when the output is no terminal, count both answered at the end)."""
    import csv
    from datetime import UTC, datetime

    from voxtra.sandbox.scenarios import CalleeScript
    from voxtra.sandbox.sipp import SipCallee

    callee = SipCallee(CalleeScript("answer", ring_for=0.2, wait_for_bye=30), calls=2)
    await callee.start()
    offset = (14 - datetime.now(UTC).hour + 12) % 24 - 12  # local 14:00 +- an hour
    zone = f"Etc/GMT{-offset:+d}" if offset else "UTC"  # POSIX zones' signs are reversed
    (tmp_path / "contacts.csv").write_text(
        f"number,timezone,name\n201,{zone},Ada\n202,{zone},Grace\n")
    env = example_env(voxtra_settings, DIAL=f"PJSIP/loopback/sip:{{number}}@127.0.0.1:"
                                            f"{callee.port}")
    command = [str(EXAMPLES / "campaign.py")] if how == "python" else [
        "-m", "voxtra", "campaign", "run", str(EXAMPLES / "campaign.py"), "--every", "1",
        "--export", "results.csv"]
    app = AppProcess(await asyncio.create_subprocess_exec(
        sys.executable, *command, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT))
    status = await app.exited(timeout=90)
    output = b"".join(app.lines).decode(errors="replace")
    assert status == 0 and app.errors() == [], output
    assert (await callee.result()).succeeded
    assert "reminding Ada" in output and "reminding Grace" in output, output
    with (tmp_path / "results.csv").open() as results:
        rows = {row["number"]: row for row in csv.DictReader(results)}
    assert {n: (r["status"], r["outcome"]) for n, r in rows.items()} == {
        "201": ("done", "answered"), "202": ("done", "answered")}, rows
    if how != "python":
        progress = re.findall(r"^pending \d+ \|.*$", output, re.MULTILINE)
        assert progress and "answered 2 |" in progress[-1] and "dials 2 |" in progress[-1], \
            output
        assert "pending 0 | dialling 0" in progress[-1], output
