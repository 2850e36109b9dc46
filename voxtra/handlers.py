"""Ready-made call handlers, usable as they are or as examples.

    app.route(did="600")(echo)
    app.route(did="601")(announce("sound:hello-world"))
"""

from __future__ import annotations

from voxtra.routing import Handler
from voxtra.session import CallSession


async def echo(call: CallSession) -> None:
    """Answer and send the caller's audio straight back until they hang up."""
    await call.answer()
    async for chunk in call.audio_stream():
        await call.send_audio(chunk)


def announce(*media: str) -> Handler:
    """A handler that answers, plays ``media`` in turn to the end, and hangs up."""

    async def announcement(call: CallSession) -> None:
        await call.answer()
        for item in media:
            if not await call.play_file(item):
                return
        await call.hangup()

    return announcement
