"""An AI phone agent on cloud services: Deepgram hears, an OpenAI model answers, ElevenLabs
speaks; Whisper and Piper take over if a cloud service fails.

Everything comes from the environment (or a ``voxtra.yaml`` named by VOXTRA_CONFIG)::

    export DEEPGRAM_API_KEY=... OPENAI_API_KEY=... ELEVENLABS_API_KEY=...
    export VOXTRA_ARI_URL=http://127.0.0.1:8088 VOXTRA_ARI_PASSWORD=...
    voxtra check                      # ARI reachable, each key accepted
    python examples/cloud_agent.py

For a local model instead of OpenAI, set OPENAI_BASE_URL (Ollama:
http://127.0.0.1:11434/v1) and OPENAI_MODEL (llama3.2). DEEPGRAM_BASE_URL (a self-hosted
Deepgram, ``http(s)://`` or ``ws(s)://``) and ELEVENLABS_BASE_URL (a proxy; the root, without
``/v1``) point the other two services elsewhere in the same way.
"""

import os

from voxtra import CallSession, VoxtraApp
from voxtra.voice.fallback import FallbackSTT, FallbackTTS
from voxtra.voice.providers.deepgram import DeepgramSTT
from voxtra.voice.providers.elevenlabs import ElevenLabsTTS
from voxtra.voice.providers.openai import OpenAILLM
from voxtra.voice.providers.piper import PiperTTS
from voxtra.voice.providers.whisper import WhisperSTT

app = VoxtraApp(
    stt=FallbackSTT([DeepgramSTT(model="nova-3", base_url=os.environ.get("DEEPGRAM_BASE_URL")),
                     WhisperSTT()]),
    llm=OpenAILLM(os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
                  base_url=os.environ.get("OPENAI_BASE_URL")),
    tts=FallbackTTS([ElevenLabsTTS(output_format="pcm_16000",
                                   base_url=os.environ.get("ELEVENLABS_BASE_URL")),
                     PiperTTS()]),
    voice={"greeting": "Thanks for calling Acme. How can I help?",
           "instructions": "You answer phone calls for the Acme shop. Be brief: one or two "
                           "short sentences, no lists, no markdown."},
)


@app.route(agent=True)
async def shop(call: CallSession) -> None:
    """Each call gets its own conversation; the agent runs it."""


if __name__ == "__main__":
    app.run()
