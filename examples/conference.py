"""A conference room and a supervised support line.

- Calls to 300 join the ``standup`` room. Everyone hears a beep as someone joins;
  callers whose number is in ``LISTENERS`` (comma-separated) join muted: they hear the
  room, the room does not hear them. The room is recorded from its first caller to its
  last, into ``recordings/standup.wav``.
- Calls to 400 are connected to the agent (``AGENT``, a dial string); the supervisor
  (``SUPERVISOR``) is called and listens to both sides, heard by nobody
  (``SUPERVISION=whisper``: heard by the caller alone; ``barge``: by everyone).

    eval "$(voxtra sandbox env)" && AGENT=PJSIP/agent SUPERVISOR=PJSIP/boss \\
        voxtra run examples/conference.py
"""

import os

from voxtra import CallSession, VoxtraApp

app = VoxtraApp()
LISTENERS = {n.strip() for n in os.environ.get("LISTENERS", "").split(",") if n.strip()}


@app.route(did="300")
async def standup(call: CallSession) -> None:
    await call.answer()
    room = app.conference("standup")
    await room.join(call, muted=call.caller_id in LISTENERS)
    if len(room.participants) == 1:
        await room.record_start("standup")  # ends, and is stored, when the room empties
    await room.announce("sound:beep")
    await call.wait_ended()


@app.route(did="400")
async def supervised(call: CallSession) -> None:
    await call.answer()
    transfer = await call.transfer_to(os.environ["AGENT"])
    await call.supervise(os.environ["SUPERVISOR"], os.environ.get("SUPERVISION", "listen"))
    await transfer.ended  # the supervisor's call ends with this one


if __name__ == "__main__":
    app.run()
