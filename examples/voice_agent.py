"""An AI phone agent that runs on one machine with no account: Whisper hears the caller,
a scripted agent answers (with a tool), Piper speaks, and the caller can interrupt.

Needs the offline extra (``pip install 'voxtra-asterisk[offline]'``). Hear it answer a spoken
question through the sandbox Asterisk with ``voxtra demo --agent``, or run it::

    eval "$(voxtra sandbox env)" && python examples/voice_agent.py

For a real model, pass any OpenAI-compatible LLM instead of ``ScriptedLLM``.
"""

from voxtra import CallSession, VoxtraApp
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.scripted import ScriptedLLM, ToolReply
from voxtra.voice.providers.whisper import WhisperSTT

HOURS = {"saturday": "nine in the morning to five in the evening",
         "sunday": "ten in the morning to four in the afternoon"}


def opening_hours(day: str) -> str:
    """Opening hours of the shop on ``day``."""
    return HOURS.get(day.lower(), "nine in the morning to six in the evening")


DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"

llm = ScriptedLLM({
    rf"(open|close|hours).*\b(?P<day>{DAYS})": ToolReply(
        "opening_hours", then="On that day we are open from {result}."),
    r"open|close|hours": ToolReply("opening_hours", {"day": "weekday"},
                                   then="On weekdays we are open from {result}."),
    r"park": "There is free parking behind the shop.",
    r"bye|thank": "Thank you for calling. Goodbye!",
}, fallback="Sorry, I can help with opening hours and parking. What would you like to know?")

app = VoxtraApp(stt=WhisperSTT(), llm=llm, tts=PiperTTS(),
                voice={"greeting": "Thanks for calling Acme. How can I help?"})


@app.route(agent=True)
async def shop(call: CallSession) -> None:
    """Set up each call's agent; the conversation itself runs by itself."""
    call.agent.tool(opening_hours)


if __name__ == "__main__":
    app.run()
