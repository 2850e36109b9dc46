"""Finding the app a command serves: ``package.module:app``, ``app.py`` or ``app.py:app``."""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from voxtra.errors import VoxtraError

if TYPE_CHECKING:
    from voxtra.app import VoxtraApp


class SettingsProblem(click.ClickException, VoxtraError):
    """Settings Voxtra cannot use: one line, and exit code 2, as for bad usage."""

    exit_code = 2

    def __init__(self, error: Exception) -> None:
        super().__init__(f"settings: {error}")


def load_app(target: str) -> VoxtraApp:
    """The :class:`~voxtra.app.VoxtraApp` named by ``target`` (attribute ``app`` unless
    one follows a colon), or made by the function it names (``app:create_app``). A
    module that fails to import, or whose settings are wrong, is one line of
    :class:`click.ClickException`, never a traceback of Voxtra's."""
    from pydantic import ValidationError

    from voxtra.app import VoxtraApp

    where, _, attribute = target.partition(":")
    attribute = attribute or "app"
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise click.ClickException(f"{where} not found")
            sys.path.insert(0, str(path.resolve().parent))
            found = runpy.run_path(str(path), run_name="__voxtra_app__").get(attribute)
        else:
            sys.path.insert(0, str(Path.cwd()))
            found = getattr(importlib.import_module(where), attribute, None)
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f"cannot import {where!r}: {exc} (run from the project's directory, or give "
            "the file: app.py)") from None
    except (VoxtraError, ValidationError) as exc:
        raise SettingsProblem(exc) from None
    except SystemExit as exc:  # app.run() at import, which refuses to run in a loop
        raise click.ClickException(str(exc.code).removeprefix("voxtra: ")) from None
    if callable(found) and not isinstance(found, VoxtraApp):  # a factory: module:create_app
        try:
            found = found()
        except (VoxtraError, ValidationError) as exc:
            raise SettingsProblem(exc) from None
    if not isinstance(found, VoxtraApp):
        raise click.ClickException(
            f"{where} defines no VoxtraApp (or function making one) named {attribute!r} "
            "(give module:name)")
    return found
