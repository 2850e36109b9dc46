"""Everything Voxtra raises on purpose has one root, so `except VoxtraError` catches it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import voxtra
from voxtra.errors import VoxtraError


def test_every_public_error_class_derives_from_voxtra_error() -> None:
    found = []
    for module_info in pkgutil.walk_packages(voxtra.__path__, "voxtra."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, Exception)
                    and value.__module__ == module.__name__ and not name.startswith("_")):
                found.append(value)
    outside = [f"{c.__module__}.{c.__name__}" for c in found if not issubclass(c, VoxtraError)]
    assert len(found) > 15 and outside == []
