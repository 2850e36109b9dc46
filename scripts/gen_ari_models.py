"""Generate ``voxtra/ari/models.py`` from the ARI swagger files of an Asterisk.

    python scripts/gen_ari_models.py /usr/share/asterisk/rest-api > voxtra/ari/models.py

(inside the sandbox root: ``~/.cache/voxtra/asterisk-sid/usr/share/asterisk/rest-api``).

Required fields stay required only where Voxtra cannot do without them: ``id``,
an event's ``type``, and the resources an event is about (its ``channel``,
``bridge``, ``playback``, ...). Everything else is optional, so an Asterisk that
leaves a field out never costs a call.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from pathlib import Path

SCALARS = {"string": "str", "int": "int", "long": "int", "double": "float",
           "boolean": "bool", "Date": "datetime", "object": "dict[str, Any]"}
BASES = {"Message", "Event"}


def load_models(directory: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    models: dict[str, dict] = {}  # type: ignore[type-arg]
    for path in sorted(directory.glob("*.json")):
        models.update(json.loads(path.read_text()).get("models", {}))
    return models


def python_type(swagger: str, models: dict[str, dict]) -> str:  # type: ignore[type-arg]
    match = re.fullmatch(r"List\[(.+)\]", swagger)
    if match:
        return f"list[{python_type(match.group(1), models)}]"
    if swagger in SCALARS:
        return SCALARS[swagger]
    if swagger in models:
        return swagger
    return "Any"


def parents(models: dict[str, dict]) -> dict[str, str]:  # type: ignore[type-arg]
    result = {}
    for name, model in models.items():
        for sub in model.get("subTypes", []):
            result[sub] = name
    return result


def generate(directory: Path) -> str:
    models = load_models(directory)
    parent_of = parents(models)
    lines = [
        '"""ARI resource and event models, generated from the swagger files of Asterisk',
        f'{_asterisk_version(directory)} by ``scripts/gen_ari_models.py``. Do not edit by hand."""',
        "",
        "from __future__ import annotations",
        "",
        "from datetime import datetime",
        "from typing import Any",
        "",
        "from pydantic import Field",
        "",
        "from voxtra.ari.model_base import AriModel, Event, Message",
    ]
    events = []
    for name in sorted(models):
        if name in BASES:
            continue
        base = parent_of.get(name, "AriModel")
        if base == "Event" or _is_event(name, parent_of):
            events.append(name)
        lines += ["", "", f"class {name}({base}):", f'    """ARI model ``{name}``."""']
        inherited = _inherited(base, models, parent_of)
        is_message = base != "AriModel"
        body = [_field(prop, spec, models, is_message)
                for prop, spec in sorted(models[name]["properties"].items())
                if prop not in inherited]
        lines += ["", *body] if body else []
    lines += ["", "", "EVENT_TYPES: dict[str, type[Message]] = {"]
    lines += [f'    "{name}": {name},' for name in sorted([*events, "MissingParams"])
              if name in models]
    lines += ["}", ""]
    return "\n".join(lines)


def _asterisk_version(directory: Path) -> str:
    data = json.loads((directory / "resources.json").read_text())
    return str(data.get("apiVersion", "?")).join(("(ARI ", ")"))


def _is_event(name: str, parent_of: dict[str, str]) -> bool:
    while name in parent_of:
        name = parent_of[name]
        if name == "Event":
            return True
    return False


def _inherited(base: str, models: dict[str, dict], parent_of: dict[str, str]) -> set[str]:  # type: ignore[type-arg]
    names: set[str] = set()
    while base in models:
        names |= set(models[base]["properties"])
        base = parent_of.get(base, "")
    return names


def _field(prop: str, spec: dict[str, object], models: dict[str, dict],  # type: ignore[type-arg]
           is_message: bool) -> str:
    annotation = python_type(str(spec["type"]), models)
    required = bool(spec.get("required")) and (
        prop == "id" or (is_message and str(spec["type"]) in models))
    name = prop + "_" if keyword.iskeyword(prop) else prop
    alias = f', alias="{prop}"' if name != prop else ""
    if required:
        value = f" = Field(...{alias})" if alias else ""
        return f"    {name}: {annotation}{value}"
    if annotation.startswith("list["):
        return f"    {name}: {annotation} = Field(default_factory=list{alias})"
    if alias:
        return f"    {name}: {annotation} | None = Field(default=None{alias})"
    return f"    {name}: {annotation} | None = None"


if __name__ == "__main__":
    sys.stdout.write(generate(Path(sys.argv[1])))
