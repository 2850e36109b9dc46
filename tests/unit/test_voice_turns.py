"""Turn-taking rules, sentence streaming and tools, without audio or a clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voxtra.voice.llm import Tool
from voxtra.voice.text import sentences
from voxtra.voice.turns import (
    TurnDetector,
    TurnSettings,
    TurnSignal,
    TurnState,
    is_backchannel,
    looks_finished,
)

SETTINGS = TurnSettings(min_speech=0.1, pause_after=0.1, min_endpointing_delay=0.4,
                        unsure_endpointing_delay=0.8, max_endpointing_delay=1.2)


def feed(detector: TurnDetector, start: float, seconds: float, probability: float
         ) -> tuple[float, list[TurnSignal]]:
    signals = []
    now = start
    for _ in range(round(seconds / 0.02)):
        now += 0.02
        signal = detector.update(now, probability, 0.02)
        if signal is not None:
            signals.append(signal)
    return now, signals


def test_a_turn_starts_after_min_speech_and_pauses_after_silence() -> None:
    detector = TurnDetector(SETTINGS)
    now, signals = feed(detector, 0.0, 0.06, 1.0)  # a click: too short
    assert signals == [] and detector.state is TurnState.QUIET
    now, signals = feed(detector, now, 0.5, 0.0)
    now, signals = feed(detector, now, 1.0, 1.0)
    assert signals == [TurnSignal.STARTED]
    assert detector.started_at == pytest.approx(0.56, abs=0.021)
    now, signals = feed(detector, now, 0.2, 0.0)
    assert signals == [TurnSignal.PAUSED]
    assert detector.paused_at == pytest.approx(1.56, abs=0.021)
    assert detector.speech_seconds == pytest.approx(1.0, abs=0.021)


def test_speech_goes_on_above_the_release_threshold() -> None:
    # What Silero gives a short word at 8 kHz when its windows fall badly: one window
    # over 0.5, then 0.4-0.5 (bench/vad_bench.py).
    word = [0.52, 0.45, 0.42, 0.47, 0.44, 0.41]
    detector = TurnDetector(SETTINGS)
    signals = [detector.update(0.02 * (i + 1), p, 0.02) for i, p in enumerate(word)]
    assert TurnSignal.STARTED in signals and detector.state is TurnState.SPEAKING
    now, signals = feed(detector, 0.12, 0.4, 0.4)  # a dip inside a word: no pause
    assert signals == [] and detector.state is TurnState.SPEAKING
    now, signals = feed(detector, now, 0.2, 0.3)  # under the release threshold: a pause
    assert signals == [TurnSignal.PAUSED]
    now, signals = feed(detector, now, 0.2, 0.45)  # resuming needs the start threshold
    assert signals == []
    single = TurnDetector(SETTINGS.model_copy(update={"vad_release_threshold": 0.5}))
    assert all(single.update(0.02 * (i + 1), p, 0.02) is None for i, p in enumerate(word))


def test_the_end_of_turn_waits_longer_after_unfinished_words() -> None:
    detector = TurnDetector(SETTINGS)
    now, _ = feed(detector, 0.0, 1.0, 1.0)
    now, _ = feed(detector, now, 0.5, 0.0)
    assert not detector.end_due(now)  # no guess at the words yet: wait
    detector.guess = "I would like to"
    assert not detector.end_due(now)
    detector.guess = "I would like a table."
    assert detector.end_due(now)
    detector.guess = "I would like to"
    assert detector.end_due(detector.paused_at + 1.21)  # the longest wait is over


def test_with_an_end_of_turn_model_words_and_verdict_set_the_wait() -> None:
    detector = TurnDetector(SETTINGS, judged=True)
    now, _ = feed(detector, 0.0, 1.0, 1.0)
    now, _ = feed(detector, now, 0.5, 0.0)
    paused_at = detector.paused_at
    detector.verdict = 0.8
    assert not detector.end_due(now)  # a complete-sounding turn, words not heard yet
    detector.guess = "I would like a table."
    assert not detector.end_due(paused_at + 0.35)  # min_endpointing_delay first
    assert detector.end_due(paused_at + 0.41)
    detector.guess = "Is it possible to?"  # unfinished words veto the model
    assert not detector.end_due(paused_at + 1.19)
    assert detector.end_due(paused_at + 1.21)  # the longest wait is over
    detector.guess, detector.verdict = "Four five six.", None
    assert not detector.end_due(paused_at + 0.41)  # the model is still judging
    detector.verdict = 0.2  # finished words, an unfinished-sounding turn: unsure
    assert not detector.end_due(paused_at + 0.79)
    assert detector.end_due(paused_at + 0.81)
    now, signals = feed(detector, paused_at + 0.5, 0.3, 1.0)
    assert signals == [TurnSignal.RESUMED] and detector.verdict is None


def test_from_a_punctuating_recogniser_an_unclosed_guess_waits_the_unsure_delay() -> None:
    """Whisper closes finished sentences with a mark; "I would like to book a table"
    with none, at a pause, was a sentence broken off ("... for four")."""
    detector = TurnDetector(SETTINGS, punctuated=True)
    now, _ = feed(detector, 0.0, 1.0, 1.0)
    now, _ = feed(detector, now, 0.5, 0.0)
    paused_at = detector.paused_at
    detector.guess = "I would like to book a table"
    assert not detector.end_due(paused_at + 0.79)
    assert detector.end_due(paused_at + 0.81)
    for closed_guess in ("I would like to book a table.", "Can I book a table?", "1 2 3 4"):
        detector.guess = closed_guess
        assert detector.end_due(paused_at + 0.41), closed_guess
    unpunctuated = TurnDetector(SETTINGS)  # a recogniser that never punctuates
    feed(unpunctuated, 0.0, 1.0, 1.0)
    feed(unpunctuated, 1.0, 0.5, 0.0)
    unpunctuated.guess = "I would like to book a table"
    assert unpunctuated.end_due(unpunctuated.paused_at + 0.41)


def test_speech_resuming_in_a_pause_continues_the_turn() -> None:
    detector = TurnDetector(SETTINGS)
    now, _ = feed(detector, 0.0, 0.6, 1.0)
    now, _ = feed(detector, now, 0.3, 0.0)
    detector.guess = "I would like to"
    now, signals = feed(detector, now, 0.4, 1.0)
    assert signals == [TurnSignal.RESUMED] and detector.guess is None
    assert detector.started_at == pytest.approx(0.0, abs=0.021)
    assert detector.speech_seconds == pytest.approx(1.0, abs=0.021)


def test_the_turn_does_not_end_while_the_caller_may_be_going_on() -> None:
    detector = TurnDetector(SETTINGS)
    now, _ = feed(detector, 0.0, 1.0, 1.0)
    now, _ = feed(detector, now, 0.4, 0.0)
    detector.guess = "I would like a table."
    now, signals = feed(detector, now, 0.06, 0.9)  # a sound, not yet min_speech long
    assert signals == [] and not detector.end_due(now)
    now, signals = feed(detector, now, 0.06, 0.9)
    assert signals == [TurnSignal.RESUMED]
    now, _ = feed(detector, now, 0.2, 0.0)
    now, _ = feed(detector, now, 0.04, 0.9)  # a click in the pause
    now, _ = feed(detector, now, 0.4, 0.0)
    detector.guess = "I would like a table for two."
    assert detector.end_due(now)  # the click passed: the pause ends the turn


@pytest.mark.parametrize(("text", "finished"), [
    ("I would like a table.", True), ("I would like to", False), ("I would like to.", False),
    ("Can you help me?", True), ("And the", False), ("Well, um...", False), ("", False),
    ("My number is", False), ("Is it possible to?", False), ("Thank you", True),
    ("one, two,", False), ("Can I pay with?", False), ("No.", True), ("1, 2, 3, 4", True),
])
def test_looks_finished(text: str, finished: bool) -> None:
    assert looks_finished(text) is finished


@pytest.mark.parametrize(("text", "backchannel"), [
    ("Uh-huh.", True), ("Mm-hmm", True), ("Yeah, okay.", True), ("I see.", True),
    ("Ha ha.", True), ("Uh-oh.", True), ("Okay, but what about Sunday?", False),
    ("Stop.", False), ("", False), ("Uh-huh, no.", False),
])
def test_is_backchannel(text: str, backchannel: bool) -> None:
    assert is_backchannel(text, TurnSettings().backchannel_words) is backchannel


async def test_sentences_are_cut_as_soon_as_they_end() -> None:
    async def tokens() -> AsyncIterator[str]:
        for token in ["Hi", ".", " Mr", ". Smith", " is", " here", ". How", " are",
                      " you", "? Fine", "\n", "Bye"]:
            yield token

    assert [s async for s in sentences(tokens())] == [
        "Hi. Mr. Smith is here.", "How are you?", "Fine\nBye"]


@pytest.mark.parametrize(("text", "first_clause", "pieces"), [
    ("Thank you, one moment please. Bye, then.", True,
     ["Thank you,", "one moment please.", "Bye, then."]),
    ("Yes, sure, I can help with that.", True, ["Yes, sure,", "I can help with that."]),
    ("It costs 1,000 dollars, paid today.", True, ["It costs 1,000 dollars,", "paid today."]),
    ("Thank you, one moment please.", False, ["Thank you, one moment please."]),
])
async def test_the_first_piece_ends_at_a_clause(text: str, first_clause: bool,
                                                pieces: list[str]) -> None:
    """A reply's first piece is its first clause of 8 or more characters, so a
    synthesiser that makes a sentence at a time starts speaking sooner; then whole
    sentences. Fed word by word, as a model streams."""
    async def words() -> AsyncIterator[str]:
        for index, word in enumerate(text.split(" ")):
            yield word if index == 0 else " " + word

    assert [s async for s in sentences(words(), first_clause=first_clause)] == pieces


async def test_a_tool_is_described_and_called_from_its_type_hints() -> None:
    def book(party: int, day: str = "today") -> dict[str, object]:
        """Book a table."""
        return {"party": party, "day": day}

    tool = Tool(book)
    schema = tool.schema()["function"]
    assert schema["name"] == "book" and schema["description"] == "Book a table."
    assert schema["parameters"]["required"] == ["party"]
    assert schema["parameters"]["properties"]["party"]["type"] == "integer"
    assert await tool.call({"party": "2"}) == '{"party": 2, "day": "today"}'
    assert (await tool.call({"day": "monday"})).startswith("error: invalid arguments")


def test_the_readme_states_every_turn_setting_and_its_default() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", readme, re.M))
    fields = TurnSettings.model_fields
    assert set(fields) <= set(rows), set(fields) - set(rows)
    for name, field in fields.items():
        if isinstance(field.default, bool):
            assert rows[name].strip() == str(field.default).lower(), name
        elif isinstance(field.default, float):
            assert float(rows[name].split()[0]) == field.default, name
