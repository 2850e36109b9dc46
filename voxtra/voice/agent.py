"""A call's conversation with the language model: ``call.agent``.

Each call has its own :class:`AgentClient` (history is never shared between
calls); the :class:`~voxtra.voice.llm.LLM` behind it is shared. Tools are plain
Python functions; the ones the agent knows are run for the model, and calls to
any other tool are returned to the handler, which answers them with
:meth:`AgentClient.add_tool_result` and calls :meth:`AgentClient.respond` again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from voxtra.voice.errors import ProviderError
from voxtra.voice.events import AgentResponseEvent
from voxtra.voice.llm import LLM, ChatMessage, Tool, ToolCall


class AgentClient:
    """The conversation of one call."""

    def __init__(self, llm: LLM, instructions: str | None = None,
                 tools: Iterable[Callable[..., Any] | Tool] = (), *,
                 first_token_timeout: float | None = 10.0, max_tool_rounds: int = 5) -> None:
        self.llm = llm
        #: The messages so far; a handler may read and change it.
        self.history: list[ChatMessage] = []
        if instructions:
            self.history.append(ChatMessage("system", instructions))
        self.tools: dict[str, Tool] = {}
        for tool in tools:
            self.tool(tool)
        self.first_token_timeout = first_token_timeout
        self.max_tool_rounds = max_tool_rounds
        #: The latest whole reply (its timings feed the turn's metrics).
        self.last_response: AgentResponseEvent | None = None

    def tool(self, function: Callable[..., Any] | Tool) -> Callable[..., Any] | Tool:
        """Let the model call ``function`` (usable as a decorator)."""
        tool = function if isinstance(function, Tool) else Tool(function)
        self.tools[tool.name] = tool
        return function

    def add_tool_result(self, tool_id: str, result: Any) -> None:
        """The result of a tool call the handler ran itself."""
        text = result if isinstance(result, str) else str(result)
        self.history.append(ChatMessage("tool", text, tool_call_id=tool_id))

    async def respond(self, text: str | None = None) -> AgentResponseEvent:
        """Add the caller's ``text`` (if any) and return the model's whole reply."""
        reply = self.reply(text)
        async for _ in reply:
            pass
        assert reply.result is not None
        return reply.result

    def reply(self, text: str | None = None) -> AgentReply:
        """Like :meth:`respond`, streamed: iterate it for text pieces as they come."""
        if text is not None:
            self.history.append(ChatMessage("user", text))
        return AgentReply(self)

    def retract(self, said: str) -> None:
        """The caller's ``said`` was not the end of their turn (a later message holds
        it whole): it leaves the history, with the replies to it that the caller went
        on over (a tool call stays: it ran)."""
        for index in range(len(self.history) - 1, -1, -1):
            message = self.history[index]
            if message.role == "user":
                if message.content == said:
                    del self.history[index:]
                return
            if message.role != "assistant" or message.tool_calls:
                return

    def heard(self, spoken: str, heard: str) -> None:
        """Barge-in cut ``spoken`` short: the history keeps only what was heard."""
        for message in reversed(self.history):
            if message.role == "assistant" and message.content == spoken:
                message.content = heard
                return


class AgentReply:
    """One reply, generated as it is iterated; :attr:`result` once it has ended."""

    def __init__(self, agent: AgentClient) -> None:
        self._agent = agent
        self.result: AgentResponseEvent | None = None
        self.messages: list[ChatMessage] = []
        #: Seconds from the request to the first token (known before the reply ends,
        #: and kept when it is cut short).
        self.first_token: float | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._generate()

    async def _generate(self) -> AsyncIterator[str]:
        agent = self._agent
        began = time.monotonic()
        spoken: list[str] = []
        called: list[ToolCall] = []
        for _ in range(agent.max_tool_rounds):
            message = ChatMessage("assistant")
            self.messages.append(message)
            agent.history.append(message)
            try:
                async for delta in self._stream(self.first_token is None):
                    if self.first_token is None:
                        self.first_token = time.monotonic() - began
                    if delta.text:
                        message.content += delta.text
                        yield delta.text
                    message.tool_calls.extend(delta.tool_calls)
            finally:
                if not message.content and not message.tool_calls:
                    agent.history.remove(message)  # nothing was said
            spoken.append(message.content)
            called.extend(message.tool_calls)
            if not message.tool_calls or any(c.name not in agent.tools
                                             for c in message.tool_calls):
                break
            for call in message.tool_calls:
                result = await agent.tools[call.name].call(call.arguments)
                agent.history.append(ChatMessage("tool", result, tool_call_id=call.id))
        self.result = AgentResponseEvent(" ".join(s for s in spoken if s), called,
                                         self.first_token, time.monotonic() - began)
        agent.last_response = self.result

    async def _stream(self, timed: bool) -> AsyncIterator[Any]:
        """The model's deltas; errors become :class:`ProviderError`, and the first
        token must come within the agent's ``first_token_timeout``."""
        agent = self._agent
        tools = list(agent.tools.values())
        stream = agent.llm.stream(list(agent.history[:-1]), tools).__aiter__()
        first = True
        try:
            while True:
                timeout = agent.first_token_timeout if first and timed else None
                try:
                    delta = await asyncio.wait_for(anext(stream), timeout)
                except StopAsyncIteration:
                    return
                first = False
                yield delta
        except TimeoutError:
            raise ProviderError(type(agent.llm).__name__, "no reply within "
                                f"{agent.first_token_timeout} s") from None
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(type(agent.llm).__name__, str(exc) or repr(exc)) from exc
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
