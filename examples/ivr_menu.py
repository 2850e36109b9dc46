"""An IVR menu: a prompt, one key, a branch per key; a wrong key hears why and is asked
again, three times at most.

    eval "$(voxtra sandbox env)" && voxtra run examples/ivr_menu.py

then call it and press 1 or 2: ``voxtra call 100 --dtmf 2``. The prompts are Asterisk's
own sounds (the ``core-sounds-en`` package).
"""

import logging

from voxtra import CallSession, VoxtraApp

log = logging.getLogger("ivr")
app = VoxtraApp()

#: Key -> (department, what the caller hears).
DEPARTMENTS = {"1": ("sales", "sound:hello-world"), "2": ("support", "sound:beep")}


@app.route()
async def main_menu(call: CallSession) -> None:
    await call.answer()
    key = await call.menu("sound:please-try-again", DEPARTMENTS, tries=3, timeout=5)
    if key is None:
        log.info("no choice made")
        await call.play_file("sound:goodbye")
    else:
        department, prompt = DEPARTMENTS[key]
        log.info("caller chose %s", department)
        await call.play_file(prompt)
    await call.hangup()


if __name__ == "__main__":
    app.run()
