"""Logging: every line a call's code writes carries the call's channel id.

The id lives in a context variable that each call's tasks are started with
(:mod:`voxtra.app.calls`); the tasks a handler starts inherit it, as asyncio copies
the context into every new task. :func:`configure` is what ``app.run()`` and
``voxtra run`` use when the program has set up no logging of its own: a line of text
per record, or one JSON object per line for a log collector.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from typing import Any

#: The channel id of the call whose code is running ("-" outside any call).
CALL_ID: contextvars.ContextVar[str] = contextvars.ContextVar("voxtra_call_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(call_id)s] %(message)s"


def call_context(call_id: str) -> contextvars.Context:
    """A copy of the current context in which :data:`CALL_ID` is ``call_id``: start a
    call's tasks in it (``asyncio.create_task(..., context=...)``)."""
    context = contextvars.copy_context()
    context.run(CALL_ID.set, call_id)
    return context


class CallIdFilter(logging.Filter):
    """Gives each record a ``call_id`` attribute (for the formats below)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = CALL_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (Unix seconds), level, logger, call id, message,
    and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": round(record.created, 3), "level": record.levelname,
            "logger": record.name, "call_id": getattr(record, "call_id", CALL_ID.get()),
            "message": record.getMessage()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure(level: int | str = logging.INFO, json_lines: bool = False,
              force: bool = False) -> bool:
    """Log to stderr at ``level``, as text or JSON lines, unless the program has
    configured logging already (a handler on the root logger) and ``force`` is unset.
    True if it configured."""
    root = logging.getLogger()
    if root.handlers and not force:
        return False
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CallIdFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, "%H:%M:%S"))
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return True
