"""Language models: chat messages, tools from plain functions, streaming replies.

A provider implements :meth:`LLM.stream`: given the conversation and the tools
it may call, it yields :class:`LLMDelta` s (text as it is generated, then any
tool calls). The message shapes follow the chat-completions convention (roles
``system``, ``user``, ``assistant``, ``tool``) that OpenAI-compatible servers share.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError, create_model

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    @classmethod
    def parse(cls, call_id: str, name: str, arguments: str) -> ToolCall:
        """A call whose arguments came as JSON text; arguments that are not a JSON
        object are kept as ``unparsed_arguments`` (the tool's validation then tells the
        model they were not usable)."""
        try:
            parsed = json.loads(arguments or "{}")
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            parsed = {"unparsed_arguments": arguments}
        return cls(call_id, name, parsed)


@dataclass
class ChatMessage:
    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    #: For ``tool`` messages: the call this is the result of.
    tool_call_id: str | None = None


@dataclass(frozen=True)
class LLMDelta:
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


class Tool:
    """A function the model may call, described by its name, docstring and type hints.

    ``Tool(get_weather)`` turns ``def get_weather(city: str) -> str`` into a JSON
    schema with one required string ``city``; :meth:`call` validates the model's
    arguments against the hints and runs the function (sync or async).
    """

    def __init__(self, function: Callable[..., Any], name: str | None = None,
                 description: str | None = None) -> None:
        self.function = function
        self.name = name or function.__name__
        self.description = description or inspect.getdoc(function) or ""
        signature = inspect.signature(function)
        hints = inspect.get_annotations(function, eval_str=True)
        fields: dict[str, Any] = {}
        for parameter in signature.parameters.values():
            annotation = hints.get(parameter.name, Any)
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[parameter.name] = (annotation, default)
        self._arguments = create_model(f"{self.name}_arguments", **fields)
        self.parameters: dict[str, Any] = self._arguments.model_json_schema()
        self.parameters.pop("title", None)

    async def call(self, arguments: dict[str, Any]) -> str:
        """Run the tool; the result as text for the model (JSON unless it is a string)."""
        try:
            values = self._arguments.model_validate(arguments)
        except ValidationError as exc:
            return f"error: invalid arguments for {self.name}: {exc.errors()}"
        result = self.function(**dict(values))
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, str):
            return result
        return json.dumps(TypeAdapter(Any).dump_python(result, mode="json"))

    def schema(self) -> dict[str, Any]:
        """The tool in the chat-completions ``tools`` format."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}


ToolFunction = Callable[..., Any] | Callable[..., Awaitable[Any]]


class LLM(ABC):
    """A chat model shared by all calls (it holds no conversation of its own)."""

    @abstractmethod
    def stream(self, messages: Sequence[ChatMessage],
               tools: Sequence[Tool] = ()) -> AsyncIterator[LLMDelta]:
        """The reply to ``messages``, as it is generated."""

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load the model now, blocking (the app calls it in a thread at startup)."""
