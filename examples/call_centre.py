"""A call centre's front door: the caller waits on hold while an agent is rung; the app
tells the agent who is calling (the agent alone hears it), then connects them. If the
agent does not answer, the caller goes to the ``support`` queue instead.

    eval "$(voxtra sandbox env)" && AGENT=PJSIP/agent voxtra run examples/call_centre.py

``AGENT`` is the agent's dial string (on the sandbox: ``PJSIP/loopback/sip:agent@HOST:PORT``).
The queue is Asterisk's (``queues.conf``; the bundled configuration has ``support``).
Needs the offline extra for the voice that speaks to the agent.
"""

import logging
import os

from voxtra import CallSession, TransferFailed, VoxtraApp
from voxtra.voice.providers.piper import PiperTTS

log = logging.getLogger("call-centre")
app = VoxtraApp(tts=PiperTTS())


@app.route()
async def front_door(call: CallSession) -> None:
    await call.answer()
    await call.play_file("sound:followme/pls-hold-while-try")
    try:
        consultation = await call.consult(os.environ["AGENT"], timeout=20)
    except TransferFailed as exc:
        log.info("no agent (%s): to the support queue", exc)
        await call.transfer_to_queue("support")
        return
    await consultation.say(f"A call from {call.caller_id or 'an unknown number'}.")
    transfer = await consultation.complete()
    log.info("caller connected to the agent")
    await transfer.ended


if __name__ == "__main__":
    app.run()
