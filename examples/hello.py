"""The smallest Voxtra app: answer, play a prompt to its end, hang up.

Run it against the sandbox Asterisk::

    eval "$(voxtra sandbox env)" && python examples/hello.py

then call it: ``sipp -sn uac -s 100 127.0.0.1:15060 -m 1``.
"""

from voxtra import CallSession, VoxtraApp

app = VoxtraApp()


@app.route()
async def hello(call: CallSession) -> None:
    await call.answer()
    await call.play_file("sound:hello-world")
    await call.hangup()


if __name__ == "__main__":
    app.run()
