"""Text pieces to sentences: a reply is spoken sentence by sentence as it is generated."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator

#: A sentence ends at . ! ? (or a newline) followed by a space, unless the word
#: before the stop is a common abbreviation or a single letter ("Mr.", "e.g.").
_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "e.g",
                            "i.e", "no", "approx"})


def _splits(text: str) -> list[int]:
    cuts = []
    for match in _END.finditer(text):
        before = text[:match.start()].rstrip(".!?\"')]").split()
        word = before[-1].lower() if before else ""
        if match.group().strip() == "" and (word in _ABBREVIATIONS or len(word) == 1):
            continue
        cuts.append(match.end())
    return cuts


async def sentences(pieces: AsyncIterable[str], min_chars: int = 8) -> AsyncIterator[str]:
    """Whole sentences out of ``pieces`` (tokens, words, lines), each as soon as its
    end is seen; the rest when the pieces end. Sentences shorter than
    ``min_chars`` are joined to the next ("Hi." + "How are you?")."""
    buffer = ""
    async for piece in pieces:
        buffer += piece
        start = 0
        for cut in _splits(buffer):
            if len(buffer[start:cut].strip()) >= min_chars:
                yield buffer[start:cut].strip()
                start = cut
        buffer = buffer[start:]
    if buffer.strip():
        yield buffer.strip()
