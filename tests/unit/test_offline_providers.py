"""The offline providers on real models: Piper speaks, Whisper hears it, Silero spots it."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from voxtra.media.audio import Pcm
from voxtra.media.g711 import ulaw_decode, ulaw_encode
from voxtra.media.resample import Resampler, resample
from voxtra.sandbox.telephone import caller_audio
from voxtra.sandbox.voices import VOICES
from voxtra.voice.errors import ProviderError
from voxtra.voice.providers.espeak import EspeakTTS, parse_wav
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.silero import SileroVAD, faster_whisper_model
from voxtra.voice.providers.smart_turn import SmartTurn, _extractor, features
from voxtra.voice.providers.whisper import WhisperSTT, unloop
from voxtra.voice.turns import TurnDetector, TurnSettings, TurnSignal, is_backchannel

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCE = "What time does the store open on Saturday?"
CORPUS_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "voice_corpus.py"


@pytest.fixture(scope="module")
async def spoken(piper: PiperTTS) -> Pcm:
    """The test sentence in Piper's voice, at 16 kHz."""
    chunks = [chunk async for chunk in piper.synthesize(SENTENCE)]
    assert chunks and all(chunk.dtype == np.int16 for chunk in chunks)
    return resample(np.concatenate(chunks), piper.sample_rate, 16000)


async def test_whisper_transcribes_piper(whisper: WhisperSTT, spoken: Pcm) -> None:
    transcript = await whisper.transcribe(spoken)
    assert "store" in transcript.text.lower()
    assert "saturday" in transcript.text.lower()
    assert 0.0 < transcript.confidence <= 1.0
    assert transcript.language == "en"


async def test_whisper_empty_audio(whisper: WhisperSTT) -> None:
    assert (await whisper.transcribe(np.zeros(0, np.int16))).text == ""


async def test_whisper_missing_model(tmp_path: Path) -> None:
    stt = WhisperSTT(tmp_path / "no-such-model")
    with pytest.raises(ProviderError) as caught:
        await stt.transcribe(np.zeros(16000, np.int16))
    assert caught.value.retryable is False


async def test_piper_stops_when_the_listener_does(piper: PiperTTS) -> None:
    assert piper.sample_rate == 22050
    stream = piper.synthesize("One sentence. Another sentence. And a third one.")
    first = await anext(stream)
    await stream.aclose()
    assert len(first) > piper.sample_rate // 4


def test_silero_tells_speech_from_silence(spoken: Pcm) -> None:
    vad = SileroVAD()
    speech, silence = vad.stream(), vad.stream()
    chunks = range(0, len(spoken), 320)
    assert max(speech.process(spoken[i:i + 320]) for i in chunks) > 0.8
    quiet = np.zeros(320, np.int16)
    assert max(silence.process(quiet) for _ in range(50)) < 0.2


async def test_silero_judges_many_calls_in_one_run_as_each_alone() -> None:
    """Calls whose listening loops wake together (a tick of the media clock) have their
    windows judged in one run of the model: each call's probabilities are the ones it
    gets judged alone, its own state kept apart from the others'."""
    voices = [v for v in VOICES if v.name in ("joe", "joe-woman", "rms")]
    lines = [caller_audio([SENTENCE], voice, lead=0.3 * i, after=0.5, level=-19.0)[0]
             for i, voice in enumerate(voices)]
    lines.append(np.zeros(len(lines[0]), np.int16))  # a silent caller
    length = min(len(line) for line in lines) // 160 * 160
    vad = SileroVAD()
    alone = [vad.stream(8000) for _ in lines]
    together = [vad.stream(8000) for _ in lines]
    expected, got = [], []
    for start in range(0, length, 160):
        chunks = [line[start:start + 160] for line in lines]
        expected.append([s.process(c) for s, c in zip(alone, chunks, strict=True)])
        got.append(await asyncio.gather(*(s.judge(c) for s, c in
                                          zip(together, chunks, strict=True))))
    assert np.allclose(expected, got, atol=1e-4)
    assert max(max(row[:3]) for row in got) > 0.8 and max(row[3] for row in got) < 0.2
    batch = vad._batches[8000]
    # Each of the four calls' two streams judged every 32 ms window of its audio; the
    # four calls' windows of a moment went in one run.
    assert batch.windows >= 2 * len(lines) * (length // 256 - 1)
    assert batch.runs <= batch.windows / 4


@pytest.mark.parametrize("silence", [2.575, 2.725, 3.05, 3.2, 3.25])
def test_silero_hears_a_short_first_word_after_seconds_of_silence(silence: float) -> None:
    """A caller asks, waits in digital silence, then cuts in with "Wait, ...": after these
    silences the model's state, carried through them, missed "Wait," and the turn began
    0.6-0.8 s late; started afresh after a second of quiet it hears the word at once."""
    voice = next(v for v in VOICES if v.name == "joe-low")
    question, cut_in = (ulaw_decode(ulaw_encode(caller_audio([text], voice, level=-19.0)[0]))
                        for text in (SENTENCE, "Wait, that's not what I asked."))
    stream = SileroVAD().stream(8000)
    before = np.concatenate([np.zeros(8000, np.int16), question,
                             np.zeros(round(silence * 8000), np.int16)])
    for start in range(0, len(before) // 160 * 160, 160):
        stream.process(before[start:start + 160])
    heard = [stream.process(cut_in[i:i + 160]) for i in range(0, 160 * 15, 160)]
    assert max(heard) >= 0.5  # within the first 0.3 s of the word


@pytest.mark.parametrize("offset", [64, 112, 240])
def test_silero_keeps_its_state_over_line_noise(offset: int) -> None:
    """A caller's question on a noisy line (the corpus's question-02: joe-low at -27 dBFS,
    noise at 15 dB SNR), then seconds of that noise: no speech is heard in it. Started
    afresh over noise (after a second under 0.15, say), the model took the noise for
    speech at these offsets (0.68-0.83) and a recogniser made a turn of it."""
    spec = importlib.util.spec_from_file_location("voice_corpus", CORPUS_SCRIPT)
    assert spec is not None and spec.loader is not None
    corpus = importlib.util.module_from_spec(spec)
    sys.modules["voice_corpus"] = corpus
    spec.loader.exec_module(corpus)
    [item] = [item for item in corpus.items() if item.id == "question-02"]
    audio, entry = corpus.render(item, "narrowband", None)
    audio = ulaw_decode(ulaw_encode(np.concatenate([np.zeros(8000 + offset, np.int16),
                                                    audio])))
    stream = SileroVAD().stream(8000)
    heard = [stream.process(audio[i:i + 160]) for i in range(0, len(audio) // 160 * 160, 160)]
    after = round((1.0 + offset / 8000 + entry["end"] + 0.4) / 0.02)
    assert entry["snr_db"] == 15.0 and len(heard) - after > 100
    assert max(heard[after:]) < 0.5


async def test_espeak_speaks() -> None:
    tts = EspeakTTS()
    chunks = [chunk async for chunk in tts.synthesize("-v Hello, how can I help you?")]
    audio = np.concatenate(chunks).astype(np.float64)
    frame = tts.sample_rate // 50  # 20 ms
    frames = audio[:len(audio) // frame * frame].reshape(-1, frame)
    voiced = np.sqrt(np.mean(frames**2, axis=1)) > 300
    assert voiced.sum() * 0.02 > 0.5


async def test_espeak_missing_binary() -> None:
    tts = EspeakTTS(binary="no-such-espeak-ng")
    with pytest.raises(ProviderError) as caught:
        _ = [chunk async for chunk in tts.synthesize("hello")]
    assert caught.value.retryable is False
    assert "apt-get install espeak-ng" in str(caught.value)


def test_parse_wav_rejects_other_data() -> None:
    with pytest.raises(ProviderError):
        parse_wav(b"not a wav file at all")


@pytest.mark.parametrize(("text", "said"), [
    ("Where can I park my car? Where can I park my car? Where can I",
     "Where can I park my car?"),
    ("I would like to book a table.", None), ("no no", None), ("", None),
    ("Okay, sure. Okay, sure.", "Okay, sure."),
    ("Sorry. Where can I park my car? Sorry. Sorry. Sorry. Sorry.",
     "Sorry. Where can I park my car? Sorry."),
    ("No, no, no.", None), ("One two, one two, one two, one two.", "One two,"),
    ("My date of birth is the third of birth is the third of birth.",
     "My date of birth is the third"),
    ("I said the third, the third of June.", None),
])
def test_a_decoder_loop_is_cut_where_it_begins(text: str, said: str | None) -> None:
    assert unloop(text) == (text if said is None else said)


def chunk_probabilities(vad: SileroVAD, pcm: Pcm, rate: int) -> list[float]:
    """The VAD's probability per 20 ms of 8 kHz ``pcm``, judged at ``rate`` as a call's
    audio arrives (through the pipeline's streaming resampler when it differs)."""
    stream = vad.stream(rate)
    to_vad = Resampler(8000, rate)
    return [stream.process(to_vad.process(pcm[i:i + 160])) for i in range(0, len(pcm), 160)]


def test_silero_hears_a_telephone_caller_at_8_khz() -> None:
    """A low voice on a phone line at a normal level: the official model at 8 kHz hears
    it; faster-whisper's 16 kHz export, fed it upsampled, barely does (it hears less the
    louder the line: 0.49 of this utterance at -30 dBFS, 0.04 at -18, where the official
    model hears 0.8 at every level)."""
    voice = next(v for v in VOICES if v.name == "joe-low")
    audio, spans = caller_audio(["Hold on, that's not what I asked."], voice, lead=1.0,
                                after=1.0, level=-18.0)
    [speech] = spans
    inside = slice(round(speech.start / 0.02), round(speech.end / 0.02))
    official = SileroVAD()
    assert official.official and official.sample_rates == (16000, 8000)
    heard = chunk_probabilities(official, audio, 8000)
    share = np.mean(np.array(heard[inside]) >= 0.5)
    assert share >= 0.7 and max(heard[:40]) < 0.5  # the lead is quiet
    export = faster_whisper_model()
    assert export is not None
    upsampled = chunk_probabilities(SileroVAD(model=export), audio, 16000)
    share_export = np.mean(np.array(upsampled[inside]) >= 0.5)
    print(f"speech chunks heard: official at 8 kHz {share:.2f}, export at 16 kHz "
          f"{share_export:.2f}")
    assert share_export <= share / 2
    with pytest.raises(ValueError, match="does not judge 8000 Hz"):
        SileroVAD(model=export).stream(8000)


def test_silero_refuses_a_model_that_is_not_silero(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="not found"):
        SileroVAD(model=tmp_path / "missing.onnx")
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not an onnx model")
    with pytest.raises(ProviderError, match="cannot load"):
        SileroVAD(model=bogus)


def test_smart_turn_hears_a_pause_inside_a_sentence() -> None:
    """Piper's voice, said as one sentence and cut at the pause: the words before the
    pause sound less finished than the whole sentence."""
    model = SmartTurn()
    voice = VOICES[0]
    before, _ = caller_audio(["I would like to book a table for", 0.5, "four people."],
                             voice, lead=0.3, level=-21.0)
    whole, _ = caller_audio(["I would like to book a table for four people."], voice,
                            lead=0.3, after=0.2, level=-21.0)
    pause = round((len(before) / 8000 - 0.5 - 0.9) * 8000)
    cut = before[:pause]
    mid = model.judge(resample(cut, 8000, 16000))
    end = model.judge(resample(whole, 8000, 16000))
    print(f"Smart Turn: mid-sentence {mid:.2f}, end {end:.2f}")
    assert 0.0 <= mid < end <= 1.0 and end >= 0.5
    assert features(np.zeros(100, np.int16), _extractor()).shape == (80, 800)


async def test_whisper_told_the_backchannel_words_spells_them_so(whisper: WhisperSTT) -> None:
    """On a phone line "uh huh" alone is heard as look-alike words; told the backchannel
    words (as the pipeline does while Voxtra speaks) Whisper spells it as one, and an
    interruption stays itself."""
    words = TurnSettings().backchannel_words
    for voice in VOICES[:3]:
        for said, backchannel in (("Uh huh.", True), ("Wait, stop, that's wrong.", False)):
            audio, _ = caller_audio([said], voice, lead=0.3, after=0.3, level=-24.0)
            heard = await whisper.transcribe(resample(audio, 8000, 16000), hints=words)
            assert is_backchannel(heard.text, words) is backchannel, (voice.name, heard.text)


def test_two_window_phases_hear_a_short_word_wherever_the_windows_fall() -> None:
    """A barge-in of two short words: how soon a turn starts on it depends, with one
    stream, on where the model's 32 ms windows fall; two streams half a window apart
    start it early from more offsets, and never miss it."""
    voice = next(v for v in VOICES if v.name == "joe-low")
    audio, [speech] = caller_audio(["Stop, stop."], voice, lead=1.0, after=0.5, level=-15.0)
    delays: dict[int, list[float]] = {1: [], 2: []}
    for phases in delays:
        vad = SileroVAD(phases=phases)
        for offset in range(0, 256, 16):  # the call's audio began this many samples later
            padded = np.concatenate([np.zeros(offset, np.int16), audio])
            detector = TurnDetector(TurnSettings())
            started = None
            for index, probability in enumerate(chunk_probabilities(vad, padded, 8000)):
                now = (index + 1) * 0.02 - offset / 8000
                if detector.update(now, probability, 0.02) is TurnSignal.STARTED:
                    started = started or now
            delays[phases].append(started - speech.start if started else float("inf"))
    print({phases: [round(d, 2) for d in found] for phases, found in delays.items()})
    early = {phases: sum(d <= 0.3 for d in found) for phases, found in delays.items()}
    # Measured: one stream started early from 11 offsets of 16 and missed the whole
    # utterance from one; two streams from 14, and from the other two at the second word.
    assert early[2] >= 14 and max(delays[2]) < 0.5
    assert early[1] < early[2]
