"""Voicemail: a greeting, a beep, then the caller's message recorded until they hang up
(two minutes at most), and stored by a sink: files in ``voicemail/`` here, or Google Cloud
Storage with ``GCSSink("bucket")``.

    eval "$(voxtra sandbox env)" && voxtra run examples/voicemail.py

The recording goes through a snoop channel and reaches the sink exactly once, even when
the caller hangs up mid-message (the usual way a message ends).
"""

import logging

from voxtra import CallSession, VoxtraApp
from voxtra.recording.sinks import LocalFileSink

log = logging.getLogger("voicemail")
app = VoxtraApp()
mailbox = LocalFileSink("voicemail")


@app.route()
async def leave_a_message(call: CallSession) -> None:
    await call.answer()
    await call.play_file("sound:vm-intro")
    call.on_hangup(lambda: log.info("caller hung up: the message is being stored"))
    await call.record_start(sink=mailbox, max_duration=120, beep=True)
    await call.wait_ended()


if __name__ == "__main__":
    app.run()
