"""Media plane: RTP, codecs, and (to come) jitter buffer and pacer. Knows nothing of ARI."""
