"""A rule-based language model for demos and tests: patterns in, replies or tool calls out.

No model and no network: each rule is a regular expression matched against the
caller's latest message; the first that matches gives the reply, streamed word
by word like a real model's tokens.

    ScriptedLLM({r"opening hours|open": "We are open nine to five.",
                 r"weather in (?P<city>\\w+)": ToolReply("get_weather")},
                fallback="Sorry, could you say that again?")
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxtra.voice.llm import LLM, ChatMessage, LLMDelta, Tool, ToolCall


@dataclass(frozen=True)
class ToolReply:
    """Call ``tool`` with the pattern's named groups (and ``arguments``) as arguments;
    after the result, say ``then`` with ``{result}`` filled in."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    then: str = "{result}"


class ScriptedLLM(LLM):
    def __init__(self, rules: Mapping[str, str | ToolReply], *,
                 fallback: str = "Sorry, I did not understand that.",
                 word_delay: float = 0.0) -> None:
        self.rules = [(re.compile(pattern, re.IGNORECASE), reply)
                      for pattern, reply in rules.items()]
        self.fallback = fallback
        #: Seconds between streamed words (0: as fast as the loop allows).
        self.word_delay = word_delay

    async def stream(self, messages: Sequence[ChatMessage],
                     tools: Sequence[Tool] = ()) -> AsyncIterator[LLMDelta]:
        last = messages[-1] if messages else ChatMessage("user")
        if last.role == "tool":
            pending = next((m for m in reversed(messages) if m.tool_calls), None)
            template = self._after_tool(pending)
            async for delta in self._words(template.format(result=last.content)):
                yield delta
            return
        for pattern, reply in self.rules:
            match = pattern.search(last.content)
            if match is None:
                continue
            if isinstance(reply, ToolReply):
                arguments = {**reply.arguments, **match.groupdict()}
                yield LLMDelta(tool_calls=(ToolCall(f"call_{uuid.uuid4().hex[:12]}",
                                                    reply.tool, arguments),))
                return
            async for delta in self._words(match.expand(reply)):
                yield delta
            return
        async for delta in self._words(self.fallback):
            yield delta

    def _after_tool(self, pending: ChatMessage | None) -> str:
        """The ``then`` text of the rule whose tool was called."""
        if pending is not None:
            names = {call.name for call in pending.tool_calls}
            for _, reply in self.rules:
                if isinstance(reply, ToolReply) and reply.tool in names:
                    return reply.then
        return "{result}"

    async def _words(self, text: str) -> AsyncIterator[LLMDelta]:
        for index, word in enumerate(text.split(" ")):
            if self.word_delay:
                await asyncio.sleep(self.word_delay)
            yield LLMDelta(word if index == 0 else " " + word)
