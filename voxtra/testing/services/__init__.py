"""Local servers that speak a cloud service's documented protocol: Deepgram's streaming
recognition, OpenAI's chat completions and Realtime API, ElevenLabs' text to speech,
and Google Cloud Storage (through ``gcp-storage-emulator``).

They ship, apart from the rest of the kit, because a user's app is tested the same way
ours is: its real SDK against a server on loopback, with no account and no network, and
with failures (a refused key, a dropped connection, a slow first byte) that the real
services cannot be asked to produce. Each module lists the protocol facts it relies on.
"""
