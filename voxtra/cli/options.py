"""What more than one command parses the same way."""

from __future__ import annotations

from pathlib import Path

import click

#: ``--save FILE``: where a command writes what its SIP caller heard.
save_heard = click.option(
    "--save", type=click.Path(dir_okay=False, path_type=Path),
    help="where to write what the caller heard (8 kHz WAV; default: a file in the "
         "temporary directory, printed)")


def name_value_pairs(_: click.Context, __: click.Parameter,
                     values: tuple[str, ...]) -> dict[str, str]:
    """A repeatable ``NAME=VALUE`` option, as a mapping (click callback)."""
    pairs = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{value!r} is not NAME=VALUE")
        pairs[name.strip()] = text
    return pairs
