"""Text pieces to sentences: a reply is spoken sentence by sentence as it is generated."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator

#: A sentence ends at . ! ? (or a newline) followed by a space, unless the word
#: before the stop is a common abbreviation or a single letter ("Mr.", "e.g.").
_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
#: A clause ends at a comma, semicolon or colon followed by a space ("1,000" goes on).
_CLAUSE = re.compile(r"[,;:]\s+")
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


async def sentences(pieces: AsyncIterable[str], min_chars: int = 8,
                    first_clause: bool = True) -> AsyncIterator[str]:
    """Whole sentences out of ``pieces`` (tokens, words, lines), each as soon as its
    end is seen; the rest when the pieces end. Sentences shorter than
    ``min_chars`` are joined to the next ("Hi." + "How are you?").

    With ``first_clause``, the first piece ends at the first clause of ``min_chars`` or
    more ("Thank you," of "Thank you, one moment please."): a synthesiser that makes a
    sentence at a time (Piper) makes a short piece sooner, and the caller hears the
    reply sooner."""
    buffer = ""
    first = first_clause
    async for piece in pieces:
        buffer += piece
        start = 0
        clauses = {m.end() for m in _CLAUSE.finditer(buffer)} if first else set()
        for cut in sorted({*_splits(buffer), *clauses}):
            if (first or cut not in clauses) and len(buffer[start:cut].strip()) >= min_chars:
                yield buffer[start:cut].strip()
                start = cut
                first = False
        buffer = buffer[start:]
    if buffer.strip():
        yield buffer.strip()
