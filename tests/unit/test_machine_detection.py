"""Answering-machine detection on telephone-band audio: people who say "Hello?" (once,
twice with a pause) are people; a six-second voicemail greeting that ends in a beep is a
machine; the beep is found. Speech from the sandbox's voices, band-limited to
300-3400 Hz at 8 kHz, judged by Silero at 8 kHz as a call's audio arrives."""

from __future__ import annotations

import numpy as np
import pytest

from voxtra.media.audio import Pcm
from voxtra.outbound.detection import Answerer, Detection, MachineDetector, ToneTracker
from voxtra.sandbox.audio import tone
from voxtra.sandbox.telephone import caller_audio
from voxtra.sandbox.voices import VOICES
from voxtra.voice.providers.silero import SileroVAD

GREETING = ("Hi, you have reached Sam and Alex. We can't take your call right now. "
            "Please leave your name and number after the tone and we will call you back.")


def detect(pcm: Pcm) -> Detection | None:
    vad = SileroVAD()
    stream = vad.stream(8000)
    detector = MachineDetector()
    for start in range(0, len(pcm) - 159, 160):
        chunk = pcm[start:start + 160]
        decision = detector.update(stream.process(chunk), chunk)
        if decision is not None:
            return decision
    return None


@pytest.mark.parametrize("voice", ["joe", "joe-woman", "slt"])
@pytest.mark.parametrize("script", [["Hello?"], ["Hello?", 1.2, "Hello?"],
                                    ["Hello?", 0.5, "Hello?"], ["Yes, speaking."]])
def test_a_person_answering_is_a_person(voice: str, script: list[str | float]) -> None:
    speaker = next(v for v in VOICES if v.name == voice)
    pcm, _ = caller_audio(script, speaker, lead=0.5, after=3.0, noise="pink", snr=20)
    decision = detect(pcm)
    assert decision is not None and decision.answerer is Answerer.HUMAN, decision


@pytest.mark.parametrize("voice", ["joe", "joe-woman", "slt"])
def test_a_voicemail_greeting_ending_in_a_beep_is_a_machine(voice: str) -> None:
    speaker = next(v for v in VOICES if v.name == voice)
    greeting, _ = caller_audio([GREETING], speaker, lead=0.3, noise="pink", snr=25)
    assert len(greeting) / 8000 > 5  # a greeting of about six seconds
    pcm = np.concatenate([greeting, tone(1000, 0.5), np.zeros(8000, np.int16)])
    decision = detect(pcm)
    assert decision is not None and decision.answerer is Answerer.MACHINE, decision
    assert decision.cause in ("long_greeting", "max_words")
    assert decision.decided_after < 4.0


def test_the_beep_is_found_and_speech_is_not_a_beep() -> None:
    speaker = next(v for v in VOICES if v.name == "joe-high")
    speech, _ = caller_audio([GREETING], speaker)
    tracker = ToneTracker(8000)
    longest = max(tracker.update(speech[i:i + 160]) for i in range(0, len(speech) - 159, 160))
    assert longest < 0.1
    beep = tone(1400, 0.3)
    assert max(tracker.update(beep[i:i + 160]) for i in range(0, len(beep), 160)) >= 0.25


def test_silence_after_the_answer_is_a_machine_and_endless_talk_unsure() -> None:
    detector = MachineDetector()
    silent = np.zeros(160, np.int16)
    decisions = [detector.update(0.0, silent) for _ in range(130)]
    assert decisions[123] is None and decisions[124] is not None  # 125 chunks: 2.5 s
    assert detector.decision == Detection(Answerer.MACHINE, "initial_silence", 2.5, 0.0, 0)
    talker = MachineDetector(MachineDetector().settings.model_copy(
        update={"greeting": 10.0, "maximum_number_of_words": 100}))
    noise = np.random.default_rng(0).normal(0, 3000, 160).astype(np.int16)
    for index in range(300):  # words of 0.2 s with 0.1 s between them, for 6 s
        decision = talker.update(0.9 if index % 15 < 10 else 0.0, noise)
        if decision is not None:
            break
    assert decision is not None and decision.cause == "too_long"
    assert decision.answerer is Answerer.UNSURE and decision.words == 17
