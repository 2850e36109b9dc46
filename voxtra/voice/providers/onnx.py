"""onnxruntime sessions for the offline models, one per file and thread count a process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from voxtra.voice.errors import ProviderError

_SESSIONS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def shared_session(provider: str, path: Path, threads: int = 1) -> Any:
    """The process's CPU inference session for the model at ``path``, loaded on first
    use with ``threads`` threads for one run (concurrent runs on one session are
    allowed). Raises :class:`ProviderError` (not retryable), naming ``provider``, when
    onnxruntime is missing or the file does not load."""
    key = (str(path.resolve()), threads)
    with _LOCK:
        if key not in _SESSIONS:
            _SESSIONS[key] = _load(provider, path, threads)
        return _SESSIONS[key]


def _load(provider: str, path: Path, threads: int) -> Any:
    try:
        import onnxruntime  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ProviderError(provider, "onnxruntime is not installed: install "
                            "voxtra-asterisk[offline]", retryable=False) from exc
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    options.log_severity_level = 4
    try:
        return onnxruntime.InferenceSession(str(path), sess_options=options,
                                            providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ProviderError(provider, f"cannot load {path}: {exc}", retryable=False) from exc
