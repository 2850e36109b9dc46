"""Media plane: a call's audio over ExternalMedia RTP. Knows nothing of ARI.

``audio`` (PCM, chunks, wire formats) and ``g711``; ``rtp`` packets; per call an
``endpoint`` (the UDP socket) with its ``receiver`` (symmetric RTP, ``jitter`` buffer,
``fanout`` to subscribers) and ``sender`` (``pacer``, packets); one ``batch`` per event
loop encodes, decodes and sends every call's frames on each tick of the ``clock``,
optionally on a media ``thread``; ``resample`` between rates.
"""
