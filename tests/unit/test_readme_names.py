"""Every name README.md uses exists where it says: the imports of its Python snippets,
the dotted ``voxtra.…`` names in its text, and the ``call.…`` and ``app.…`` members it
shows; each snippet compiles."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

from voxtra import CallSession, VoxtraApp

README = (Path(__file__).parents[2] / "README.md").read_text()
SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.S)


def resolve(dotted: str) -> object:
    """The module or attribute ``dotted`` names (the longest importable module, then
    attributes)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise ModuleNotFoundError(dotted)


def test_the_readme_has_snippets() -> None:
    assert len(SNIPPETS) >= 3


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_each_snippet_compiles_and_its_imports_resolve(index: int) -> None:
    tree = ast.parse(SNIPPETS[index])
    compile(tree, f"README snippet {index}", "exec")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(
                    f"{node.module}.{alias.name}"), f"{node.module}.{alias.name}"


def test_every_dotted_voxtra_name_in_the_text_exists() -> None:
    names = set(re.findall(r"`(voxtra(?:\.[A-Za-z_]\w*)+)", README))
    assert len(names) >= 5
    for name in sorted(names):
        resolve(name)


def members(cls: type) -> set[str]:
    """What an instance of ``cls`` has: its class's attributes and what ``__init__``
    assigns."""
    assigned = re.findall(r"self\.(\w+)\s*(?::[^=\n]*)?=", inspect.getsource(cls.__init__))
    return set(dir(cls)) | set(assigned)


def test_every_call_and_app_member_shown_exists() -> None:
    calls = set(re.findall(r"\bcall\.([a-z_]\w*)", README))
    apps = set(re.findall(r"\bapp\.([a-z_]\w*)", README)) - {"py"}  # "app.py", a file
    assert {"answer", "hangup", "say", "listen", "transfer_to", "metadata"} <= calls
    assert calls <= members(CallSession), calls - members(CallSession)
    assert apps <= members(VoxtraApp), apps - members(VoxtraApp)
