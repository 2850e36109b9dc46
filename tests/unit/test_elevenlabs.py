"""ElevenLabsTTS on the real ``elevenlabs`` SDK against a local streaming server
(protocol facts: see :mod:`voxtra.testing.services.elevenlabs`)."""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import numpy as np
import pytest

from voxtra.media.audio import Pcm
from voxtra.media.g711 import ulaw_decode, ulaw_encode
from voxtra.testing.services.elevenlabs import FakeElevenLabs, speech
from voxtra.testing.voice import MemoryAudio
from voxtra.voice.errors import ProviderError
from voxtra.voice.providers.elevenlabs import ChunkDecoder, ElevenLabsTTS
from voxtra.voice.speech import Speech

TEXT = "We open at nine on Saturdays."
LONG = "Thank you for calling Acme, your call matters to us, please hold the line."


def voice(server: FakeElevenLabs, **options: object) -> ElevenLabsTTS:
    return ElevenLabsTTS(api_key="test-key", base_url=server.url, **options)  # type: ignore[arg-type]


async def spoken(tts: ElevenLabsTTS, text: str = TEXT) -> list[Pcm]:
    return [pcm async for pcm in tts.synthesize(text)]


async def test_pcm_16000_arrives_as_the_tone_with_the_request_as_documented() -> None:
    async with FakeElevenLabs() as server:
        tts = voice(server, voice_id="voice-1", model="eleven_turbo_v2_5",
                    optimize_streaming_latency=3, voice_settings={"stability": 0.4})
        pieces = await spoken(tts)
    assert tts.sample_rate == 16000 and len(pieces) > 1
    assert all(piece.dtype == np.int16 for piece in pieces)
    assert np.array_equal(np.concatenate(pieces), speech(TEXT, "pcm_16000")[0])
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/text-to-speech/voice-1/stream")
    assert (request.voice_id, request.output_format, request.model_id, request.text,
            request.api_key) == ("voice-1", "pcm_16000", "eleven_turbo_v2_5", TEXT, "test-key")
    assert request.query["optimize_streaming_latency"] == "3"
    assert request.body["voice_settings"] == {"stability": 0.4}


async def test_ulaw_8000_is_decoded_to_pcm_at_8000() -> None:
    async with FakeElevenLabs() as server:
        tts = voice(server, output_format="ulaw_8000")
        pcm = np.concatenate(await spoken(tts))
    assert tts.sample_rate == 8000 and pcm.dtype == np.int16
    assert server.requests[0].output_format == "ulaw_8000"
    sent = speech(TEXT, "ulaw_8000")[0]
    assert np.array_equal(pcm, ulaw_decode(ulaw_encode(sent)))
    assert np.max(np.abs(pcm.astype(np.int32) - sent)) < 300  # μ-law's step near 8000


async def test_audio_is_yielded_while_the_server_is_still_sending() -> None:
    async with FakeElevenLabs() as server:
        pieces = voice(server).synthesize(LONG)
        first = await anext(pieces)
        assert first.size and not server.stream.finished.is_set()
        rest = [pcm async for pcm in pieces]
        assert rest and server.stream.finished.is_set()


async def test_closing_the_iterator_closes_the_http_stream() -> None:
    async with FakeElevenLabs() as server:
        pieces = voice(server).synthesize(LONG)
        await anext(pieces)
        await pieces.aclose()  # type: ignore[attr-defined]
        await asyncio.wait_for(server.stream.disconnected.wait(), 2)
        total = len(speech(LONG, "pcm_16000")[1]) // server.chunk_bytes
        assert server.stream.chunks_sent < total and not server.stream.finished.is_set()


async def test_barge_in_on_a_speech_stops_the_generation() -> None:
    audio = MemoryAudio()
    async with FakeElevenLabs() as server:
        utterance = Speech(LONG, voice(server), audio)
        task = asyncio.create_task(utterance.run())
        await asyncio.wait_for(utterance.started, 2)
        utterance.interrupt()
        task.cancel()
        result = await task
        await asyncio.wait_for(server.stream.disconnected.wait(), 2)
    await audio.close()
    assert result.interrupted and not server.stream.finished.is_set()


async def test_pcm_cut_at_odd_byte_counts_is_put_back_together() -> None:
    pcm, wire = speech(TEXT, "pcm_16000")
    decoder = ChunkDecoder("pcm")
    pieces = [decoder.feed(wire[i:i + 333]) for i in range(0, len(wire), 333)]
    assert np.array_equal(np.concatenate(pieces), pcm)
    assert decoder.feed(b"\x01").size == 0 and decoder.feed(b"\x02")[0] == 0x0201
    async with FakeElevenLabs(chunk_bytes=1001) as server:
        assert np.array_equal(np.concatenate(await spoken(voice(server))), pcm)


@pytest.mark.parametrize(("behaviour", "retryable"), [
    ({"reject_key": True}, False), ({"fail_status": 500}, True), ({"fail_status": 429}, True),
    ({"fail_status": 422}, False),
])
async def test_errors_say_whether_a_retry_can_help(behaviour: dict[str, object],
                                                   retryable: bool) -> None:
    async with FakeElevenLabs(**behaviour) as server:  # type: ignore[arg-type]
        tts = voice(server)
        with pytest.raises(ProviderError) as raised:
            await spoken(tts)
        assert raised.value.retryable is retryable
        assert "test-key" not in str(raised.value)
        if behaviour.get("reject_key"):
            assert "rejected" in str(raised.value)
            with pytest.raises(ProviderError, match="rejected") as checked:
                await tts.check()
            assert checked.value.retryable is False


async def test_a_dropped_stream_or_a_silent_server_is_a_retryable_error() -> None:
    async with FakeElevenLabs(drop_after_chunks=2) as server:
        with pytest.raises(ProviderError, match="connection") as raised:
            await asyncio.wait_for(spoken(voice(server), LONG), 5)
        assert raised.value.retryable and server.stream.chunks_sent == 2
    async with FakeElevenLabs(first_chunk_delay=0.6) as server:
        with pytest.raises(ProviderError, match="timed out") as raised:
            await asyncio.wait_for(spoken(voice(server, timeout=0.2)), 5)
        assert raised.value.retryable


async def test_check_accepts_the_key_and_a_tts_only_key() -> None:
    async with FakeElevenLabs() as server:
        await voice(server, voice_id="voice-2").check()
        assert server.requests[-1].path == "/v1/voices/voice-2"
        assert server.requests[-1].api_key == "test-key"
    async with FakeElevenLabs(tts_only_key=True) as server:
        await voice(server).check()


def test_configuration_is_checked_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="ELEVENLABS_API_KEY") as raised:
        ElevenLabsTTS()
    assert raised.value.retryable is False
    monkeypatch.setenv("ELEVENLABS_API_KEY", "from-env")
    tts = ElevenLabsTTS(output_format="pcm_8000")
    assert tts.sample_rate == 8000 and "from-env" not in repr(tts)
    tts.load()  # makes the SDK client; no request
    for bad in ({"output_format": "mp3_44100_128"}, {"timeout": 0},
                {"optimize_streaming_latency": 7}):
        with pytest.raises(ProviderError) as raised:
            ElevenLabsTTS(**bad)  # type: ignore[arg-type]
        assert raised.value.retryable is False


async def test_stream_with_timestamps_gives_the_audio_and_each_character_once() -> None:
    """The "Stream speech with timing" endpoint (Pipecat's HTTP service calls it): lines of
    JSON whose audio, joined, is the plain stream's, and whose alignment places every
    character of the text once, in order, at the fake's pace."""
    async with FakeElevenLabs(chunk_bytes=800) as server, aiohttp.ClientSession() as session:
        answer = await session.post(
            f"{server.url}/v1/text-to-speech/voice-1/stream/with-timestamps",
            params={"output_format": "pcm_8000"}, json={"text": TEXT},
            headers={"xi-api-key": "test-key"})
        assert answer.status == 200
        lines = [json.loads(line) async for line in answer.content if line.strip()]
    audio = b"".join(base64.b64decode(line["audio_base64"]) for line in lines)
    assert len(lines) > 1 and audio == speech(TEXT, "pcm_8000")[1]
    timed = [line["alignment"] for line in lines if line["alignment"] is not None]
    assert "".join(c for a in timed for c in a["characters"]) == TEXT
    starts = [t for a in timed for t in a["character_start_times_seconds"]]
    assert starts == sorted(starts) and starts[-1] == pytest.approx((len(TEXT) - 1) * 0.02)
