"""Telephone test audio: the channel, levels, noise, timelines and a small corpus build,
each checked by measuring the audio made."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import get_args

import numpy as np
import pytest

from voxtra.media.audio import Pcm
from voxtra.sandbox.sound import read_g722, read_wav
from voxtra.sandbox.telephone import (
    NoiseKind,
    Timeline,
    active_level,
    at_level,
    cough,
    noise_burst,
    telephone_band,
    wideband,
    with_noise,
)
from voxtra.sandbox.voices import VOICES, Voice, synthesize

CORPUS_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "voice_corpus.py"
MANIFEST_KEYS = {"id", "kind", "channel", "voice", "text", "level_dbfs", "snr_db", "file",
                 "rate", "codec", "speech", "onset", "end", "pauses"}


def tones(frequencies: list[float], rate: int, seconds: float = 2.0) -> Pcm:
    t = np.arange(int(rate * seconds)) / rate
    waves = np.sin(2 * np.pi * np.outer(frequencies, t))
    made: Pcm = (3000 * waves.sum(axis=0)).astype(np.int16)
    return made


def strength(pcm: Pcm, rate: int, frequency: float) -> float:
    """The level of ``frequency`` in ``pcm`` (Hann-windowed FFT), in dB."""
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    bins = np.abs(np.fft.rfftfreq(len(pcm), 1 / rate) - frequency) < 5
    return float(20 * np.log10(spectrum[bins].max() + 1e-9))


def db(value: float) -> float:
    return float(20 * np.log10(value / 32768))


def rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(signal.astype(np.float64) ** 2)))


def test_telephone_band_keeps_300_to_3400_hz_at_8_khz() -> None:
    heard = telephone_band(tones([100, 200, 500, 1000, 3000, 3300, 3600], 16000), 16000)
    assert len(heard) == 16000  # two seconds at 8 kHz
    reference = strength(heard, 8000, 1000)
    for kept in (500, 3000, 3300):
        assert abs(strength(heard, 8000, kept) - reference) < 1.0, kept
    for cut in (100, 200, 3600):
        assert strength(heard, 8000, cut) - reference < -40, cut


def test_telephone_band_leaves_little_energy_outside_the_band() -> None:
    noise = (np.random.default_rng(0).standard_normal(44100 * 2) * 4000).astype(np.int16)
    heard = telephone_band(noise, 44100).astype(np.float64)
    power = np.abs(np.fft.rfft(heard)) ** 2
    frequencies = np.fft.rfftfreq(len(heard), 1 / 8000)
    outside = power[(frequencies < 250) | (frequencies > 3450)].sum()
    assert outside / power.sum() < 0.001


def test_wideband_keeps_50_to_7000_hz_at_16_khz() -> None:
    heard = wideband(tones([20, 100, 1000, 6500, 7600], 48000), 48000)
    assert len(heard) == 32000
    reference = strength(heard, 16000, 1000)
    for kept in (100, 6500):
        assert abs(strength(heard, 16000, kept) - reference) < 1.0, kept
    for cut in (20, 7600):
        assert strength(heard, 16000, cut) - reference < -40, cut


def bursts(rate: int = 8000) -> tuple[Pcm, np.ndarray]:
    """Two loud stretches with silence around them, and the mask of where they are."""
    pcm = np.zeros(rate * 4, dtype=np.int16)
    rng = np.random.default_rng(1)
    pcm[rate:2 * rate] = tones([440, 880], rate, 1.0)
    pcm[int(2.5 * rate):int(3.5 * rate)] = (rng.standard_normal(rate) * 2000).astype(np.int16)
    voiced = pcm != 0
    return pcm, voiced


@pytest.mark.parametrize("target", [-30.0, -21.0, -12.0])
def test_at_level_sets_the_level_of_the_voiced_part(target: float) -> None:
    pcm, voiced = bursts()
    leveled = at_level(pcm, target)
    assert abs(db(rms(leveled[voiced])) - target) < 0.5
    assert not leveled[~voiced].any()  # the pauses stay silent
    assert abs(active_level(leveled) - target) < 0.1


def test_at_level_makes_up_for_clipped_peaks() -> None:
    loud = (np.random.default_rng(2).standard_normal(8000) * 3000).astype(np.int16)
    leveled = at_level(loud, -6.0)  # a 12 dB crest factor: peaks clip
    assert (np.abs(leveled) >= 32767).any()
    assert abs(db(rms(leveled)) - -6.0) < 0.5


@pytest.mark.parametrize("kind", get_args(NoiseKind))
def test_with_noise_hits_its_snr_band_limited(kind: NoiseKind) -> None:
    pcm, voiced = bursts()
    speech = at_level(pcm, -24.0)
    noisy = with_noise(speech, 15.0, seed=3, kind=kind)
    noise = noisy.astype(np.float64) - speech
    assert abs(db(rms(speech[voiced])) - db(rms(noise)) - 15.0) < 1.0
    assert rms(noise[:8000]) > 0  # over the silences too
    power = np.abs(np.fft.rfft(noise)) ** 2
    frequencies = np.fft.rfftfreq(len(noise), 1 / 8000)
    assert power[(frequencies < 250) | (frequencies > 3450)].sum() / power.sum() < 0.001
    again = with_noise(speech, 15.0, seed=3, kind=kind)
    other = with_noise(speech, 15.0, seed=4, kind=kind)
    assert np.array_equal(noisy, again)
    assert not np.array_equal(noisy, other)


def test_bursts_are_short_and_deterministic() -> None:
    for made in (cough(7), noise_burst(7, "door"), noise_burst(7, "rustle")):
        assert 0.2 * 16000 < len(made) < 1.05 * 16000
        assert np.abs(made).max() > 10000
    assert np.array_equal(cough(7), cough(7))
    assert not np.array_equal(cough(7), cough(8))


def loud_frames(pcm: Pcm, rate: int) -> list[tuple[float, float]]:
    """Stretches of 10 ms frames louder than -60 dBFS, as (start, end) seconds."""
    frame = rate // 100
    levels = [rms(pcm[i:i + frame]) for i in range(0, len(pcm), frame)]
    stretches: list[tuple[float, float]] = []
    for index, level in enumerate(levels):
        if level > 32768 * 1e-3:
            start = index * frame / rate
            if stretches and abs(stretches[-1][1] - start) < 1e-9:
                stretches[-1] = (stretches[-1][0], start + frame / rate)
            else:
                stretches.append((start, start + frame / rate))
    return stretches


def test_timeline_spans_are_where_the_audio_is_loud() -> None:
    rate = 8000
    timeline = Timeline(rate)
    timeline.pause(1.5)
    timeline.add(tones([300], rate, 0.8), "speech", "one")
    timeline.pause(0.6)
    timeline.add(tones([500], rate, 0.5), "speech", "two")
    coughed = telephone_band(cough(1), 16000)
    timeline.add(coughed, "cough", at=4.0)
    timeline.pause(1.0)
    assert timeline.cursor == pytest.approx(4.0 + len(coughed) / rate + 1.0)
    audio, spans = timeline.render()
    assert [(s.kind, s.text) for s in spans] == [("speech", "one"), ("speech", "two"),
                                                 ("cough", "")]
    assert (spans[0].start, spans[0].end) == pytest.approx((1.5, 2.3))
    assert (spans[1].start, spans[1].end) == pytest.approx((2.9, 3.4))
    assert spans[2].start == pytest.approx(4.0, abs=0.02)
    loud = loud_frames(audio, rate)
    assert len(loud) == 3
    for (start, end), span in zip(loud, spans, strict=True):
        assert abs(start - span.start) <= 0.011 and abs(end - span.end) <= 0.011


def load_corpus_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("voice_corpus", CORPUS_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One synthesis cache for the module's corpus builds."""
    return tmp_path_factory.mktemp("voices")


@pytest.mark.parametrize("voice", VOICES, ids=lambda voice: voice.name)
def test_every_caller_voice_speaks(voice: Voice, voices: Path) -> None:
    """Each voice's synthesiser is installed and says the words: about a word per
    0.2-0.6 s, loud in the telephone band."""
    pcm, rate = synthesize(voice, "Can I book a table for four people?", voices)
    seconds = len(pcm) / rate
    assert 1.2 < seconds < 5.0
    narrow = telephone_band(pcm, rate)
    assert rms(narrow) > 32768 * 10 ** (-35 / 20)


@pytest.mark.parametrize("channel", ["narrowband", "wideband"])
def test_a_small_corpus_build(tmp_path: Path, voices: Path, channel: str) -> None:
    if channel == "wideband":
        pytest.importorskip("G722", reason="wideband items are G.722: pip install G722")
    corpus = load_corpus_module()
    entries = corpus.build(tmp_path, limit=6, channels=[channel], cache=voices)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == entries
    assert {e["kind"] for e in manifest} == {"question", "plain", "short", "backchannel",
                                              "bargein", "noise"}
    rate = 8000 if channel == "narrowband" else 16000
    for entry in manifest:
        assert set(entry) == MANIFEST_KEYS
        assert entry["channel"] == channel and entry["rate"] == rate
        assert -30 <= entry["level_dbfs"] <= -12
        path = tmp_path / entry["file"]
        if channel == "narrowband":
            assert entry["codec"] == "ulaw"
            assert path.read_bytes()[20:22] == b"\x07\x00"  # format tag 7: μ-law
            audio, file_rate = read_wav(path)
            assert file_rate == 8000
        else:
            assert entry["codec"] == "g722"
            audio = read_g722(path)
        overlap = entry["kind"] in ("backchannel", "bargein", "noise")
        assert entry["onset"] == pytest.approx(4.0 if overlap else 1.5, abs=0.02)
        assert len(audio) / rate == pytest.approx(entry["end"] + (5.0 if overlap else 4.0),
                                                  abs=0.05)
        if entry["kind"] == "noise":
            assert entry["text"] == "" and entry["speech"] == []
        else:
            assert entry["text"] and entry["speech"][0][0] == entry["onset"]
            assert entry["speech"][-1][1] == entry["end"]
        gaps = [b[0] - a[1] for a, b in zip(entry["speech"], entry["speech"][1:], strict=False)]
        assert entry["pauses"] == pytest.approx(gaps, abs=1e-3)
        assert (entry["kind"] == "question") == bool(entry["pauses"])
        if entry["snr_db"] is None:  # clean: speech loud, its pauses and the lead silent
            for start, end in entry["speech"]:
                assert rms(audio[int(start * rate):int(end * rate)]) > 32768 * 10 ** (-40 / 20)
            for (_, end), (start, _) in zip(entry["speech"], entry["speech"][1:],
                                            strict=False):
                assert rms(audio[int(end * rate) + 80:int(start * rate) - 80]) < 20
            assert rms(audio[:int(1.4 * rate)]) < 20
    made = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.suffix != ".json"}
    corpus.build(tmp_path, limit=6, channels=[channel], cache=voices)
    assert {p: p.stat().st_mtime_ns for p in made} == made  # nothing made again
