"""What the VAD and the end-of-turn model make of telephone callers, offline, on the
labelled corpus: the official Silero model at the call's own 8 kHz beside the 16 kHz-only
export faster-whisper ships (fed the call upsampled, as before), and Smart Turn's verdicts
at pauses inside sentences and at their ends.

    .venv/bin/python bench/vad_bench.py [--corpus DIR] [--out FILE]

Method. Each narrowband item's μ-law file is decoded and fed to both VADs in 20 ms
chunks, as a call's audio arrives (the export through the pipeline's streaming 8 to
16 kHz resampler). A chunk is labelled speech inside the manifest's speech stretches and
silence more than 0.2 s from any stretch or sound (the edges are left out). Reported per
model, over clean and noisy items apart:

- speech heard: speech chunks at or above 0.5 (the default threshold);
- utterances missed: speech stretches with no 100 ms run at or above 0.5;
- dips: runs below 0.5 of 60-300 ms inside a stretch (each can start a false pause);
- false alarms: silence chunks at or above 0.5, and noise items (coughs, slams) whose
  sounds held a 200 ms run at or above 0.5 (what pauses a reply);
- cost: CPU seconds per second of audio (one call's share), and the ratio of the two.

Window phase, streams and hysteresis: the official model judges 32 ms windows, so where
they fall in a word depends on when the call's audio began. Each item is fed again from
eight offsets (0 to 28 ms dropped, 4 ms apart), through the pipeline's turn detector:
one stream with one threshold (0.5 to start and to go on), one stream with the default
hysteresis (0.5 to start, 0.35 to go on), and the default two streams (windows half a
window apart, the higher probability counting) with hysteresis; reported: barge-ins
heard and the delay from their onset to the turn's start (p50/p95/max), false pauses
inside speech stretches of turns, and noise items that started a turn.

Smart Turn judges each question at each pause inside it (the audio up to where the pause
begins) and every turn kind at its end, as the pipeline does; reported: the share judged
complete (probability at or above 0.5) at mid-sentence pauses and at ends, by engine
(Piper, Flite), and the latency of one decision on one thread (p50/p95).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from voxtra.media.audio import Pcm
from voxtra.media.resample import Resampler, resample
from voxtra.sandbox.sound import read_wav
from voxtra.sandbox.voices import VOICES
from voxtra.voice.providers.silero import SileroVAD, faster_whisper_model
from voxtra.voice.providers.smart_turn import SmartTurn
from voxtra.voice.turns import TurnDetector, TurnSettings, TurnSignal

CORPORA = Path.home() / ".cache" / "voxtra" / "voice-corpus"
CHUNK = 0.02
THRESHOLD = 0.5
#: SIPp streams the WAV's header too, but here the file is read: no offset.
EDGE = 0.2
#: Each corpus voice's synthesiser (older corpora's voices not listed were espeak-ng's).
VOICE_ENGINES = {voice.name: voice.engine for voice in VOICES}


def probabilities(vad: SileroVAD, pcm: Pcm, upsample: bool) -> tuple[np.ndarray, float]:
    """Per 20 ms chunk, the model's speech probability; and the CPU seconds it took."""
    stream = vad.stream(16000 if upsample else 8000)
    to_vad = Resampler(8000, 16000) if upsample else None
    step = int(8000 * CHUNK)
    out = []
    started = time.process_time()
    for start in range(0, len(pcm) - step + 1, step):
        chunk = pcm[start:start + step]
        out.append(stream.process(to_vad.process(chunk) if to_vad else chunk))
    return np.array(out), time.process_time() - started


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) chunk indexes of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2], strict=True))


def vad_figures(entries: list[dict[str, Any]], root: Path) -> dict[str, Any]:
    models = {"official 8 kHz": (SileroVAD(phases=1), False),
              "official 8 kHz, two streams (default)": (SileroVAD(), False)}
    export = faster_whisper_model()
    if export is not None:
        models["v6 export, upsampled to 16 kHz"] = (SileroVAD(model=export, phases=1), True)
    figures: dict[str, Any] = {}
    for name, (vad, upsample) in models.items():
        tally: dict[str, dict[str, float]] = {}
        cpu = audio_seconds = 0.0
        for entry in entries:
            pcm, rate = read_wav(root / entry["file"])
            probs, spent = probabilities(vad, pcm, upsample)
            cpu += spent
            audio_seconds += len(pcm) / rate
            group = tally.setdefault("noisy" if entry["snr_db"] else "clean", {
                "speech_chunks": 0, "speech_heard": 0, "stretches": 0, "missed": 0,
                "dips": 0, "silence_chunks": 0, "false_alarms": 0, "noise_items": 0,
                "noise_paused": 0})
            times = np.arange(len(probs)) * CHUNK + CHUNK
            heard = probs >= THRESHOLD
            stretches = [(a, b) for a, b in entry["speech"]]
            for a, b in stretches:
                inside = (times > a) & (times <= b)
                group["speech_chunks"] += int(inside.sum())
                group["speech_heard"] += int(heard[inside].sum())
                group["stretches"] += 1
                if not any(e - s >= 5 for s, e in runs(heard & inside)):
                    group["missed"] += 1
                dips = runs(~heard & inside)
                group["dips"] += sum(1 for s, e in dips if 3 <= e - s <= 15
                                     and times[s] > a + 0.1 and times[e - 1] < b - 0.1)
            if entry["kind"] == "noise":
                sound = (times > entry["onset"]) & (times <= entry["end"] + 0.1)
                group["noise_items"] += 1
                group["noise_paused"] += any(e - s >= 10 for s, e in runs(heard & sound))
                busy = [(entry["onset"], entry["end"])]
            else:
                busy = stretches
            quiet = np.ones(len(probs), bool)
            for a, b in busy:
                quiet &= (times < a - EDGE) | (times > b + EDGE)
            group["silence_chunks"] += int(quiet.sum())
            group["false_alarms"] += int(heard[quiet].sum())
        figures[name] = {
            "cpu_seconds_per_audio_second": round(cpu / audio_seconds, 5),
            **{group: {
                "speech_heard": round(t["speech_heard"] / t["speech_chunks"], 3),
                "utterances_missed": f"{t['missed']:.0f}/{t['stretches']:.0f}",
                "dips_per_stretch": round(t["dips"] / t["stretches"], 2),
                "false_alarm_chunks": round(t["false_alarms"] / t["silence_chunks"], 4),
                "noise_items_heard_as_speech": f"{t['noise_paused']:.0f}/"
                                               f"{t['noise_items']:.0f}",
            } for group, t in sorted(tally.items())}}
    if export is not None:
        figures["cost_ratio_official_to_export"] = round(
            figures["official 8 kHz"]["cpu_seconds_per_audio_second"]
            / figures["v6 export, upsampled to 16 kHz"]["cpu_seconds_per_audio_second"], 2)
    return figures


def phase_figures(entries: list[dict[str, Any]], root: Path) -> dict[str, Any]:
    one, two = SileroVAD(phases=1), SileroVAD()
    hysteresis = TurnSettings()
    detectors = {
        "one stream, one threshold": (one, TurnSettings(vad_release_threshold=THRESHOLD)),
        "one stream, hysteresis": (one, hysteresis),
        "two streams, hysteresis (default)": (two, hysteresis)}
    tally: dict[str, dict[str, list[float]]] = {name: {} for name in detectors}
    step = int(8000 * CHUNK)
    for entry in entries:
        pcm, _ = read_wav(root / entry["file"])
        for shift in range(0, 256, 32):
            judged = {vad: probabilities(vad, pcm[shift:], upsample=False)[0]
                      for vad in (one, two)}
            for name, (vad, settings) in detectors.items():
                probs = judged[vad]
                detector, starts, pauses = TurnDetector(settings), [], []
                for index, probability in enumerate(probs):
                    now = (shift + (index + 1) * step) / 8000
                    signal = detector.update(now, probability, CHUNK)
                    if signal is TurnSignal.STARTED:
                        starts.append(now)
                    elif signal is TurnSignal.PAUSED:
                        pauses.append(detector.paused_at)
                figures = tally[name]
                if entry["kind"] == "bargein":
                    figures.setdefault("heard", []).append(bool(starts))
                    if starts:
                        figures.setdefault("delay", []).append(starts[0] - entry["onset"])
                elif entry["kind"] == "noise":
                    figures.setdefault("noise", []).append(bool(starts))
                elif entry["kind"] in ("question", "plain", "short"):
                    figures.setdefault("false_pauses", []).append(sum(
                        any(a + 0.05 < at < b - 0.05 for a, b in entry["speech"])
                        for at in pauses))
    return {name: {
        "bargeins_heard": f"{sum(f['heard']):.0f}/{len(f['heard'])}",
        "onset_to_turn_start_ms": {
            "p50": round(float(np.percentile(f["delay"], 50)) * 1000),
            "p95": round(float(np.percentile(f["delay"], 95)) * 1000),
            "max": round(max(f["delay"]) * 1000)},
        "false_pauses_in_turns": f"{sum(f['false_pauses']):.0f} in {len(f['false_pauses'])}",
        "noise_items_starting_a_turn": f"{sum(f['noise']):.0f}/{len(f['noise'])}",
    } for name, f in tally.items()}


def turn_figures(entries: list[dict[str, Any]], root: Path) -> dict[str, Any]:
    model = SmartTurn()
    model.load()
    verdicts: dict[str, dict[str, list[float]]] = {}
    latencies = []
    for entry in entries:
        if entry["kind"] not in ("question", "plain", "short"):
            continue
        pcm, rate = read_wav(root / entry["file"])
        wide = resample(pcm, rate, 16000)
        engine = VOICE_ENGINES.get(entry["voice"], "espeak")
        start = entry["speech"][0][0]
        cuts = [("mid", end) for _, end in entry["speech"][:-1]] + \
            [("end", entry["speech"][-1][1])]
        for where, end in cuts:
            audio = wide[max(0, int((start - 0.3) * 16000)):int((end + 0.2) * 16000)]
            began = time.perf_counter()
            probability = model.judge(audio)
            latencies.append(time.perf_counter() - began)
            label = f"{where} ({entry['kind']})" if where == "end" else "mid-sentence pause"
            verdicts.setdefault(label, {}).setdefault(engine, []).append(probability)
    share = {label: {engine: f"{sum(p >= THRESHOLD for p in ps)}/{len(ps)} judged complete"
                     for engine, ps in by_engine.items()}
             for label, by_engine in sorted(verdicts.items())}
    return {"verdicts": share, "latency_ms": {
        "p50": round(float(np.percentile(latencies, 50)) * 1000, 1),
        "p95": round(float(np.percentile(latencies, 95)) * 1000, 1),
        "decisions": len(latencies)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="the corpus directory (default: newest)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    root = args.corpus or max(CORPORA.glob("*/manifest.json"),
                              key=lambda p: p.stat().st_mtime).parent
    entries = [e for e in json.loads((root / "manifest.json").read_text())
               if e["channel"] == "narrowband"]
    result = {"corpus": str(root), "items": len(entries),
              "vad": vad_figures(entries, root), "phases": phase_figures(entries, root),
              "end_of_turn": turn_figures(entries, root)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
