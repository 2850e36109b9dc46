"""Finding what a command runs: an app (``package.module:app``, ``app.py`` or
``app.py:app``) or a campaign (``campaign.py:campaign``)."""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from voxtra.errors import VoxtraError

if TYPE_CHECKING:
    from voxtra.app import VoxtraApp
    from voxtra.outbound import Campaign

T = TypeVar("T")


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
    from voxtra.app import VoxtraApp

    return _load(target, "app", VoxtraApp)


def load_campaign(target: str) -> Campaign:
    """The :class:`~voxtra.outbound.Campaign` named by ``target`` (attribute
    ``campaign`` unless one follows a colon), or made by the function it names; errors
    as for :func:`load_app`."""
    from voxtra.outbound import Campaign

    return _load(target, "campaign", Campaign)


def _load(target: str, default: str, kind: type[T]) -> T:
    from pydantic import ValidationError

    where, _, attribute = target.partition(":")
    attribute = attribute or default
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
            f"the file: {default}.py)") from None
    except (VoxtraError, ValidationError) as exc:
        raise SettingsProblem(exc) from None
    except SystemExit as exc:  # app.run() at import, which refuses to run in a loop
        raise click.ClickException(str(exc.code).removeprefix("voxtra: ")) from None
    if callable(found) and not isinstance(found, kind):  # a factory: module:create_app
        try:
            found = found()
        except (VoxtraError, ValidationError) as exc:
            raise SettingsProblem(exc) from None
    if not isinstance(found, kind):
        raise click.ClickException(
            f"{where} defines no {kind.__name__} (or function making one) named "
            f"{attribute!r} (give module:name)")
    return found
