"""G.711 μ-law and A-law (ITU-T G.711), vectorised with numpy lookup tables.

Decoding indexes a 256-entry table by the code byte; encoding indexes a
65536-entry table by the 16-bit sample's bit pattern. Both tables are built
once, at import, from the segment rules of the recommendation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_Samples = npt.NDArray[np.int16]

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


def _ulaw_decode_table() -> _Samples:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    sample = np.arange(65536, dtype=np.int32).astype(np.uint16).astype(np.int16).astype(np.int32)
    value = sample >> 2  # 14-bit magnitude domain of the recommendation
    mask = np.where(value < 0, 0x7F, 0xFF)
    value = np.minimum(np.abs(value), _ULAW_CLIP >> 2) + (_ULAW_BIAS >> 2)
    ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    segment = np.searchsorted(ends, value)
    code = (np.minimum(segment, 7) << 4) | ((value >> (np.minimum(segment, 7) + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _alaw_decode_table() -> _Samples:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code & 0x70) >> 4
    value = (code & 0x0F) << 4
    value = np.where(segment == 0, value + 8, (value + 0x108) << np.maximum(segment - 1, 0))
    return np.where(code & 0x80, value, -value).astype(np.int16)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    sample = np.arange(65536, dtype=np.int32).astype(np.uint16).astype(np.int16).astype(np.int32)
    value = sample >> 3
    mask = np.where(value >= 0, 0xD5, 0x55)
    value = np.where(value >= 0, value, -value - 1)
    ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    segment = np.searchsorted(ends, value)
    shift = np.where(segment < 2, 1, segment)
    code = (np.minimum(segment, 7) << 4) | ((value >> shift) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


_ULAW_DECODE = _ulaw_decode_table()
_ULAW_ENCODE = _ulaw_encode_table()
_ALAW_DECODE = _alaw_decode_table()
_ALAW_ENCODE = _alaw_encode_table()


def ulaw_decode(payload: bytes) -> _Samples:
    return _ULAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]


def ulaw_encode(pcm: _Samples) -> bytes:
    return _ULAW_ENCODE[np.asarray(pcm, dtype=np.int16).view(np.uint16)].tobytes()


def alaw_decode(payload: bytes) -> _Samples:
    return _ALAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]


def alaw_encode(pcm: _Samples) -> bytes:
    return _ALAW_ENCODE[np.asarray(pcm, dtype=np.int16).view(np.uint16)].tobytes()
