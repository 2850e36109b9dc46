"""``voxtra call``: a real SIP call to your app, and what came back."""

from __future__ import annotations

import asyncio
import struct
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from voxtra import runner
from voxtra.cli.options import name_value_pairs, save_heard
from voxtra.cli.sandbox import NOT_RUNNING, the_sandbox
from voxtra.sandbox.sound import read_wav, write_wav

if TYPE_CHECKING:
    from voxtra.sandbox.sipp import SippResult


@click.command()
@click.argument("number")
@click.option("--wav", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="what the caller says: a mono WAV file (16-bit PCM or μ-law, any "
                   "rate; sent as 8 kHz μ-law)")
@click.option("--dtmf", default="", help="keys the caller presses after the answer "
              "(SIP INFO), e.g. 12#")
@click.option("--header", "headers", multiple=True, callback=name_value_pairs,
              metavar="NAME=VALUE",
              help="a SIP header of the INVITE (repeatable)")
@click.option("--caller-id", default="1000", show_default=True)
@click.option("--hangup-after", type=float,
              help="seconds after the answer at which the caller hangs up (default: 5 s "
                   "after the audio has played, else wait up to 30 s for the app)")
@save_heard
@click.option("--host", help="SIP host of the Asterisk to call (default: the sandbox's)")
@click.option("--port", type=int, default=5060, show_default=True,
              help="its SIP port, with --host")
@click.option("--name", default="default", show_default=True, help="sandbox instance")
def call(number: str, wav: Path | None, dtmf: str, headers: dict[str, str], caller_id: str,
         hangup_after: float | None, save: Path | None, host: str | None, port: int,
         name: str) -> int:
    """Call NUMBER with SIPp through the sandbox Asterisk (or --host) and report what
    came back: answered, SIP status, who hung up, how long, and what the caller heard
    (saved, and transcribed when the offline extra is installed). Serve your app first
    (voxtra run app:app). Exit 1 if the call was not answered."""
    from voxtra.sandbox.scenarios import CallerScript
    from voxtra.sandbox.sipp import SipCaller

    if host is None:
        state = the_sandbox(name, 0, 0).state()
        if state is None:
            click.echo("voxtra: the sandbox is not running: `voxtra sandbox up`, or call "
                       "your Asterisk with --host", err=True)
            return NOT_RUNNING
        host, port = state.sip_host, state.sip_port
    saved = save or Path(tempfile.gettempdir()) / f"voxtra-call-{number}.wav"
    with tempfile.TemporaryDirectory() as tmp:
        audio = None
        if wav is not None:
            audio, seconds = _as_ulaw(wav, Path(tmp))
            if hangup_after is None:  # time for a reply after the audio
                hangup_after = seconds + 5
        script = CallerScript(number, caller_id=caller_id, headers=headers, audio=audio,
                              dtmf=dtmf, hangup_after=hangup_after, wait_for_bye=30,
                              capture_audio=True)
        click.echo(f"Calling {number} at {host}:{port} ...")
        began = time.monotonic()
        result = runner.run(SipCaller(host, port).call(script))
        took = time.monotonic() - began
    report_call(result, took)
    if not result.answered:
        return 1
    runner.run(report_heard(result, saved))
    return 0


def report_call(result: SippResult, took: float) -> None:
    """What the SIP caller saw: answered, final status, who hung up, how long."""
    click.echo(f"  answered:          {'yes' if result.answered else 'NO'}")
    click.echo(f"  final SIP status:  {result.final_status}")
    if result.answered:
        click.echo(f"  hung up by:        "
                   f"{'the app' if result.hung_up_by_remote else 'the caller'}")
    click.echo(f"  call lasted:       {took:.2f} s")


async def report_heard(result: SippResult, saved: Path) -> None:
    """Save what the caller heard, say where, and transcribe it when Whisper is there."""
    from voxtra.media.resample import resample
    from voxtra.sandbox.audio import audible_spans
    from voxtra.voice.errors import ProviderError

    heard = result.heard()
    write_wav(saved, heard, 8000)
    try:
        from voxtra.voice.providers.whisper import WhisperSTT

        stt = WhisperSTT()
        await asyncio.to_thread(stt.load)
        text = (await stt.transcribe(resample(heard, 8000, 16000))).text
        click.echo(f"  the caller heard (transcribed with Whisper): {text!r}")
    except (ImportError, ProviderError):
        click.echo("  (install voxtra-asterisk[offline] to have it transcribed)")
    said = audible_spans(result.captured, received=False)
    replies = audible_spans(result.captured, received=True)
    if said:
        end_of_speech = said[-1][1]
        answer = next((start for start, _ in replies if start > end_of_speech), None)
        if answer is not None:
            click.echo(f"  end of the caller's audio -> first audio back at the caller: "
                       f"{(answer - end_of_speech) * 1000:.0f} ms")
    click.echo(f"  what the caller heard is in {saved} (8 kHz WAV)")


def _as_ulaw(wav: Path, directory: Path) -> tuple[Path, float]:
    """``wav`` as the μ-law 8 kHz WAV SIPp streams, and its length in seconds."""
    from voxtra.media.resample import resample
    from voxtra.sandbox.audio import write_ulaw_wav

    try:
        pcm, rate = read_wav(wav)
    except (ValueError, KeyError, struct.error) as exc:
        raise click.BadParameter(f"{wav}: {exc}", param_hint="--wav") from None
    return write_ulaw_wav(directory / "caller.wav", resample(pcm, rate, 8000)), len(pcm) / rate
