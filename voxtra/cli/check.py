"""``voxtra check`` and ``voxtra models``: is everything the app needs there?"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from voxtra import runner

if TYPE_CHECKING:
    from voxtra.app import VoxtraApp


@click.command()
@click.argument("target", required=False)
def check(target: str | None) -> int:
    """Check the settings and what they reach, one line each: ARI answers with these
    credentials, the Asterisk modules the verbs need are loaded, each voice provider
    loads and its credentials are accepted, the recordings directory is writable.

    TARGET (module:app or app.py) checks that app's settings and providers; without
    it, the settings from VOXTRA_*, .env and VOXTRA_CONFIG. Exit 1 if anything failed.
    """
    from voxtra.app import VoxtraApp
    from voxtra.cli.target import SettingsProblem, load_app
    from voxtra.errors import VoxtraError

    if target is not None:
        app = load_app(target)
    else:
        try:
            app = VoxtraApp()
        except VoxtraError as exc:
            raise SettingsProblem(exc) from None
    return runner.run(_check(app))


async def _check(app: VoxtraApp) -> int:
    from voxtra.ari.errors import AriError
    from voxtra.asterisk.capabilities import missing_requirements
    from voxtra.errors import VoxtraError
    from voxtra.voice.fallback import FallbackLLM, FallbackSTT, FallbackTTS

    failures = 0
    try:
        info = await app.client.asterisk.info()
        version = info.system.version if info.system else "?"
        click.echo(f"ari: OK: {app.settings.ari_url} (Asterisk {version})")
        for requirement in await missing_requirements(app.client):
            level = "FAILED" if requirement.core else "WARNING"
            click.echo(f"asterisk: {level}: module {requirement.module} is not loaded: "
                       f"needed for {requirement.needed_for}")
            failures += requirement.core
        failures += await _check_media(app)
    except AriError as exc:
        click.echo(f"ari: FAILED: {exc}")
        failures += 1
    finally:
        await app.client.close()
    failures += _check_directory("recordings", app.settings.recordings_dir)
    providers = app.voice.providers
    for stage, provider in (("stt", providers.stt), ("llm", providers.llm),
                            ("tts", providers.tts), ("vad", providers.vad),
                            ("realtime", providers.realtime),
                            ("end_of_turn", providers.end_of_turn)):
        if provider is None:
            click.echo(f"{stage}: not configured")
            continue
        members = provider.providers if isinstance(
            provider, FallbackSTT | FallbackLLM | FallbackTTS) else [provider]
        for member in members:
            name = type(getattr(member, "batch", member)).__name__
            try:
                await asyncio.to_thread(member.load)
                probe = getattr(member, "check", None)
                if probe is not None:
                    await probe()
                    click.echo(f"{stage}: OK: {name}: credentials accepted")
                else:
                    click.echo(f"{stage}: OK: {name}: loaded")
            except VoxtraError as exc:
                click.echo(f"{stage}: FAILED: {name}: {exc}")
                failures += 1
    return 1 if failures else 0


async def _check_media(app: VoxtraApp) -> int:
    """1 (after a FAILED line saying where audio stopped) unless a tone sent through
    Asterisk over ExternalMedia comes back."""
    from voxtra.app.media_check import MediaCheckError, media_round_trip

    media = app.context.media
    try:
        took = await media_round_trip(app.client, app.app_name, media)
    except MediaCheckError as exc:
        click.echo(f"media: FAILED: {exc}")
        return 1
    click.echo(f"media: OK: a tone went through Asterisk and back over ExternalMedia "
               f"({media.format.asterisk_name}, {media.advertise or media.bind}) in "
               f"{took * 1000:.0f} ms")
    return 0


def _check_directory(what: str, directory: Path) -> int:
    """1 (after a FAILED line naming the fix) if the app cannot write to ``directory``,
    or create it (it makes it on the first file)."""
    existing = next(p for p in (directory.absolute(), *directory.absolute().parents)
                    if p.exists())
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        made = "" if existing == directory.absolute() else " (made on the first file)"
        click.echo(f"{what}: OK: {directory}{made}")
        return 0
    click.echo(f"{what}: FAILED: {existing} is not a directory the app may write to: give "
               f"it to the user the app runs as (chown), or set VOXTRA_RECORDINGS_DIR")
    return 1


@click.command()
@click.argument("action", type=click.Choice(["list", "fetch"]))
def models(action: str) -> int:
    """Model files the offline voice stack runs but Voxtra does not ship (the official
    Silero VAD, Smart Turn): list where each is, or fetch the missing."""
    from voxtra.voice import model_files
    from voxtra.voice.errors import ProviderError

    try:
        where = model_files.fetch() if action == "fetch" else {
            name: model_files.find(name) for name in model_files.MODELS}
    except ProviderError as exc:
        raise click.ClickException(str(exc)) from None
    for name, path in where.items():
        click.echo(f"{name}: {path or f'missing (run `{model_files.FETCH_COMMAND}`)'}")
    return 0 if all(where.values()) else 1
