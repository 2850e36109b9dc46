"""An AI phone agent on a speech-to-speech model (OpenAI Realtime): the model hears the
caller, decides when the turn is over and answers in its own voice, with barge-in.

    export OPENAI_API_KEY=... VOXTRA_ARI_URL=http://127.0.0.1:8088 VOXTRA_ARI_PASSWORD=...
    voxtra check                      # ARI reachable, the key accepted
    python examples/realtime_agent.py
"""

from voxtra import CallSession, VoxtraApp
from voxtra.voice.errors import ProviderError
from voxtra.voice.providers.openai_realtime import OpenAIRealtime

app = VoxtraApp(
    realtime=OpenAIRealtime(voice="marin", silence_duration_ms=600),
    voice={"instructions": "You answer phone calls for the Acme shop. Be brief: one or two "
                           "short sentences."},
)


def opening_hours(day: str) -> str:
    """When the shop opens on ``day``."""
    return "closed" if day.lower() == "sunday" else "nine in the morning to six in the evening"


@app.route()
async def shop(call: CallSession) -> None:
    call.on("metrics", lambda turn: print(f"call {call.id}: {turn}"))
    await call.answer()
    try:
        conversation = await call.converse(greeting="Thanks for calling Acme. How can I help?",
                                           tools=[opening_hours])
        await conversation.wait()
    except ProviderError:  # the model could not be reached, or the connection was lost
        await call.play_file("sound:please-try-call-later")
    await call.hangup()


if __name__ == "__main__":
    app.run()
