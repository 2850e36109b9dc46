"""DeepgramSTT on the real ``deepgram-sdk`` against a local listen websocket (protocol facts:
see :mod:`voxtra.testing.services.deepgram`)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import aiohttp
import numpy as np
import pytest

from voxtra.media.audio import Pcm
from voxtra.media.g711 import ulaw_encode
from voxtra.sandbox.audio import tone
from voxtra.testing.services.deepgram import CONFIDENCE, FakeDeepgram
from voxtra.voice.errors import ProviderError
from voxtra.voice.providers.deepgram import DeepgramSTT
from voxtra.voice.stt import STTStream


def recogniser(server: FakeDeepgram, **options: object) -> DeepgramSTT:
    """A recogniser for ``server``, loaded as the app does at startup; ``interim()`` may
    wait long enough for a loaded test machine (it returns once a result covers the audio)."""
    options.setdefault("interim_wait", 2.0)
    stt = DeepgramSTT(api_key="test-key", base_url=server.url, **options)  # type: ignore[arg-type]
    stt.load()
    return stt


def speak(stream: STTStream, seconds: float, rate: int = 16000) -> Pcm:
    """Push ``seconds`` of tone in 20 ms pieces, as the pipeline does; returns the audio."""
    return push(stream, tone(300.0, seconds, rate), rate)


def pause(stream: STTStream, seconds: float, rate: int = 16000) -> Pcm:
    """Push ``seconds`` of silence (the fake recognises no words in it)."""
    return push(stream, np.zeros(int(seconds * rate), np.int16), rate)


def push(stream: STTStream, pcm: Pcm, rate: int) -> Pcm:
    step = rate // 50
    for start in range(0, len(pcm), step):
        stream.feed(pcm[start:start + step])
    return pcm


async def test_audio_goes_up_with_the_options_and_the_transcript_comes_back() -> None:
    async with FakeDeepgram(transcripts=["What time do you open?"]) as server:
        stream = recogniser(server, model="nova-2-phonecall").stream()
        speak(stream, 1.0)
        guess = await stream.interim()
        assert guess.text == "What time do you"
        final = await stream.final()
        await stream.aclose()
    assert final.text == "What time do you open?" and final.confidence == CONFIDENCE
    assert final.language == "en"
    [seen] = server.connections
    assert seen.authorization == "Token test-key"
    assert {key: seen.query.get(key) for key in (
        "model", "language", "encoding", "sample_rate", "channels", "interim_results",
        "smart_format", "endpointing")} == {
        "model": "nova-2-phonecall", "language": "en", "encoding": "linear16",
        "sample_rate": "16000", "channels": "1", "interim_results": "true",
        "smart_format": "true", "endpointing": "300"}
    assert seen.audio_bytes == 2 * 16000
    assert [kind for _, kind in seen.controls] == ["Finalize", "CloseStream"]
    assert seen.closed.is_set() and seen.sent[-1]["type"] == "Metadata"


async def test_final_segments_are_joined_with_the_latest_interim() -> None:
    async with FakeDeepgram(transcripts=[["Good morning.", "I need help with a bill."]]) as server:
        stream = recogniser(server).stream()
        speak(stream, 0.5)  # "Good morning."
        pause(stream, 0.4)  # final by endpointing (300 ms)
        speak(stream, 0.5)  # "I need"
        assert (await stream.interim()).text == "Good morning. I need"
        final = await stream.final()
        await stream.aclose()
    assert final.text == "Good morning. I need help with a bill."
    finals = [m for m in server.last.sent if m["type"] == "Results" and m["is_final"]]
    assert [(m["speech_final"], m["from_finalize"]) for m in finals] == [
        (True, False), (False, True)]


async def test_keepalive_keeps_a_paused_stream_open() -> None:
    """Deepgram closes a stream idle for 10 s (here 1 s): KeepAlive is what keeps it."""
    async with FakeDeepgram(transcripts=["Let me think about it."], idle_timeout=1.0) as server:
        stream = recogniser(server, endpointing=False, keepalive_interval=0.3).stream()
        speak(stream, 0.5)
        await stream.interim()
        await asyncio.sleep(2.0)  # twice the idle timeout without audio
        speak(stream, 0.8)
        final = await stream.final()
        await stream.aclose()
    assert final.text == "Let me think about it."
    seen = server.last
    assert seen.query["endpointing"] == "false" and not seen.idle_closed
    kinds = [kind for _, kind in seen.controls]
    assert kinds[-2:] == ["Finalize", "CloseStream"] and set(kinds[:-2]) == {"KeepAlive"}
    assert len(kinds) >= 2 + 3  # one KeepAlive at least every 0.3 s... of a 2 s pause
    assert seen.audio_bytes == 2 * 16000 * 1.3


async def test_without_keepalive_the_idle_stream_is_closed_and_final_says_why() -> None:
    async with FakeDeepgram(transcripts=["Let me think."], idle_timeout=0.5) as server:
        stream = recogniser(server, endpointing=False, keepalive_interval=30.0).stream()
        speak(stream, 0.3)
        while not server.connections:
            await asyncio.sleep(0.01)
        await asyncio.wait_for(server.last.closed.wait(), 5)
        with pytest.raises(ProviderError) as caught:
            await asyncio.wait_for(stream.final(), 5)
        await stream.aclose()
    assert server.last.idle_closed and server.last.count("KeepAlive") == 0
    assert caught.value.retryable and "code 1011" in str(caught.value)
    assert "NET-0001" in str(caught.value)


async def test_mulaw_at_8000_sends_one_byte_a_sample() -> None:
    async with FakeDeepgram(transcripts=["Yes."]) as server:
        stt = recogniser(server, encoding="mulaw", sample_rate=8000)
        stream = stt.stream()
        pcm = speak(stream, 0.4, rate=8000)
        assert (await stream.final()).text == "Yes."
        await stream.aclose()
    seen = server.last
    assert (seen.query["encoding"], seen.query["sample_rate"]) == ("mulaw", "8000")
    assert seen.audio_bytes == len(pcm) == 3200
    assert bytes(seen.audio) == ulaw_encode(pcm)


async def test_a_rejected_key_fails_check_and_the_stream_without_retry() -> None:
    async with FakeDeepgram(reject_key=True) as server:
        stt = recogniser(server)
        with pytest.raises(ProviderError) as caught:
            await stt.check()
        stream = stt.stream()
        speak(stream, 0.2)
        with pytest.raises(ProviderError) as in_stream:
            await asyncio.wait_for(stream.final(), 2)
        await stream.aclose()
    assert not caught.value.retryable and "rejected (HTTP 401)" in str(caught.value)
    assert not in_stream.value.retryable
    assert "test-key" not in str(caught.value) + repr(caught.value.__cause__)


async def test_check_passes_with_a_good_key() -> None:
    async with FakeDeepgram() as server:
        await recogniser(server).check()
    assert server.last.accepted and server.last.controls[-1][1] == "CloseStream"


async def test_a_connection_dropped_mid_utterance_makes_final_raise_retryable() -> None:
    async with FakeDeepgram(transcripts=["Hello there."], drop_after_bytes=16000) as server:
        stream = recogniser(server).stream()
        speak(stream, 1.0)
        with pytest.raises(ProviderError) as caught:
            await asyncio.wait_for(stream.final(), 3)
        await stream.aclose()
    assert caught.value.retryable and "lost mid-utterance" in str(caught.value)
    assert server.last.dropped


async def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    stt = DeepgramSTT(api_key="test-key", base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ProviderError) as caught:
        await stt.check()
    assert caught.value.retryable


async def test_final_takes_what_it_has_when_finalize_gets_no_answer() -> None:
    async with FakeDeepgram(transcripts=["Okay."]) as server:
        stream = recogniser(server, finalize_wait=0.3).stream()
        speak(stream, 0.3)
        pause(stream, 0.4)  # "Okay." is final by endpointing: nothing left to flush
        started = time.monotonic()
        final = await asyncio.wait_for(stream.final(), 5)
        waited = time.monotonic() - started
        await stream.aclose()
    assert final.text == "Okay." and waited >= 0.3  # it gave Finalize its time...
    assert not any(m.get("from_finalize") for m in server.last.sent)  # ...and got nothing


async def test_a_slow_server_bounds_interim_but_final_waits() -> None:
    async with FakeDeepgram(transcripts=["Sure."], slow=1.5, interim_every=1.0) as server:
        stream = recogniser(server, interim_results=False, interim_wait=0.3,
                            finalize_wait=5.0).stream()
        speak(stream, 0.4)
        assert (await stream.interim()).text == ""
        assert server.last.sent == []  # interim() gave up before any answer came
        assert (await stream.final()).text == "Sure."
        await stream.aclose()
    assert server.last.query["interim_results"] == "false"


def test_configuration_is_checked_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPGRAM_API_KEY", raising=False)
    with pytest.raises(ProviderError) as caught:
        DeepgramSTT()
    assert not caught.value.retryable and "DEEPGRAM_API_KEY" in str(caught.value)
    monkeypatch.setenv("DEEPGRAM_API_KEY", "from-env")
    stt = DeepgramSTT(base_url="https://dg.internal:8443/")
    stt.load()
    assert "from-env" not in repr(stt)
    with pytest.raises(ProviderError):
        DeepgramSTT(encoding="opus")
    with pytest.raises(ProviderError):
        DeepgramSTT(base_url="dg.internal")


async def test_no_audio_means_no_connection() -> None:
    async with FakeDeepgram() as server:
        stream = recogniser(server).stream()
        stream.feed(np.zeros(0, np.int16))
        assert (await stream.final()).text == ""
        await stream.aclose()
    assert server.connections == []


async def test_the_key_is_not_logged_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeDeepgram(api_key="sekrit-4242") as server:
        stt = DeepgramSTT(api_key="sekrit-4242", base_url=server.url)
        stream = stt.stream()
        speak(stream, 0.3)
        await stream.final()
        await stream.aclose()
    assert server.last.authorization == "Token sekrit-4242"
    assert "Authorization" in caplog.text and "sekrit-4242" not in caplog.text



async def test_finalize_ends_the_current_segment_and_repeat_starts_the_script_again() -> None:
    """One socket that hears turn after turn, finalised at each turn's end (as Pipecat's
    Deepgram service does): each ``Finalize`` gives the current segment only, never words
    of later ones, and ``repeat`` starts the script again once it is all out."""
    async with FakeDeepgram(transcripts=[["Good morning.", "Bye now."]], repeat=True) as server, \
            aiohttp.ClientSession() as session:
        url = server.url.replace("http", "ws") + "/v1/listen?encoding=linear16&sample_rate=16000"
        async with session.ws_connect(url, headers={"Authorization": "Token test-key"}) as ws:
            finals = []
            for _ in range(3):
                await ws.send_bytes(tone(300.0, 0.3, 16000).astype("<i2").tobytes())
                await ws.send_str(json.dumps({"type": "Finalize"}))
                answer = await ws.receive_json(timeout=5)
                assert answer["is_final"] and answer["from_finalize"]
                finals.append(answer["channel"]["alternatives"][0]["transcript"])
    assert finals == ["Good morning.", "Bye now.", "Good morning."]
