"""MkDocs hooks: the reference pages that are generated, not written.

``{{ settings }}`` becomes a table of every setting (from the settings models, with the
``#:`` comment above each field in the source), its environment variable and YAML key;
``{{ cli }}`` becomes the help of every ``voxtra`` command, as the command prints it.
"""

from __future__ import annotations

import ast
import inspect
import io
import tokenize
from typing import Any

import click
from pydantic import BaseModel


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The ``#:`` comment lines just above each field of ``model``, by field name."""
    source = inspect.getsource(model)
    lines: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.string.startswith("#:"):
            lines[token.start[0]] = token.string[2:].strip()
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above, line = [], node.lineno - 1
            while line in lines:
                above.insert(0, lines[line])
                line -= 1
            found[node.target.id] = " ".join(above)
    return found


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(below)"
    return f"`{value!r}`" if value not in (None, [], {}) else "unset"


def _table(model: type[BaseModel], prefix: str, env: str) -> list[str]:
    comments = _comments(model)
    rows = []
    nested = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        variable = f"`VOXTRA_{name.upper()}`" if env else ""
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append((annotation, f"{key}."))
        text = comments.get(name, "").replace("|", "\\|")
        rows.append(f"| `{key}` | {variable} | {_default(field)} | {text} |")
    lines = ["| YAML key | variable | default | what |", "| --- | --- | --- | --- |", *rows]
    for model_, sub in nested:
        lines += ["", f"### `{sub[:-1]}`", "", *_table(model_, sub, "")]
    return lines


def settings_reference() -> str:
    from voxtra.settings import VoxtraSettings

    return "\n".join(_table(VoxtraSettings, "", "env"))


def cli_reference() -> str:
    from voxtra.cli import cli

    parts = []

    def document(command: click.Command, path: str) -> None:
        context = click.Context(command, info_name=path, terminal_width=88)
        parts.extend([f"## `{path}`", "", "```text", command.get_help(context), "```", ""])
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                document(sub, f"{path} {name}")

    document(cli, "voxtra")
    return "\n".join(parts)


def on_page_markdown(markdown: str, **_: Any) -> str:
    if "{{ settings }}" in markdown:
        markdown = markdown.replace("{{ settings }}", settings_reference())
    if "{{ cli }}" in markdown:
        markdown = markdown.replace("{{ cli }}", cli_reference())
    return markdown
