"""What more than one command parses the same way."""

from __future__ import annotations

import click


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
