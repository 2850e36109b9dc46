"""``voxtra init``: a project that runs, and passes its own tests, at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

APP = '''"""{name}: a Voxtra app. Serve it with ``voxtra run app:create_app``."""

from voxtra import CallSession, VoxtraApp, VoxtraSettings


async def welcome(call: CallSession) -> None:
    """Answer, ask for a key, play a prompt for it, hang up."""
    await call.answer()
    key = await call.menu("sound:hello-world", "12", tries=2, timeout=5)
    await call.play_file("sound:beep" if key == "1" else "sound:goodbye")
    await call.hangup()


def create_app(settings: VoxtraSettings | None = None) -> VoxtraApp:
    """The app; settings from VOXTRA_* variables, .env and VOXTRA_CONFIG by default."""
    app = VoxtraApp(settings)
    app.route(extension="100")(welcome)
    return app
'''

TEST = '''"""Real calls through a real Asterisk (the pytest plugin's sandbox) to the app."""

from voxtra.sandbox.scenarios import CallerScript

from app import create_app


async def test_a_caller_pressing_1_is_answered_and_hung_up(voxtra_settings, sip_caller):
    app = create_app(voxtra_settings)
    async with app:
        result = await sip_caller.call(CallerScript("100", dtmf="1", wait_for_bye=15))
    assert result.answered and result.hung_up_by_remote


async def test_a_number_without_a_route_is_refused(voxtra_settings, sip_caller):
    app = create_app(voxtra_settings)
    async with app:
        result = await sip_caller.call(CallerScript("999", expect_status=404))
    assert result.succeeded and not result.answered
'''

ENV = '''# Copy to .env (read by voxtra run and the app); `voxtra sandbox env` prints the
# sandbox's values. Never commit the real password.
VOXTRA_ARI_URL=http://127.0.0.1:8088
VOXTRA_ARI_USER=voxtra
VOXTRA_ARI_PASSWORD=
VOXTRA_APP_NAME=voxtra
# VOXTRA_STATUS_PORT=9100          # /metrics, /health, /ready on loopback
'''

README = '''# {name}

A Voxtra app: `app.py` (the calls), `tests/` (real calls through a real Asterisk),
`asterisk-conf/` (an Asterisk configuration: `voxtra render-conf OUT` fills it in),
`Dockerfile`.

```sh
voxtra sandbox up && eval "$(voxtra sandbox env)"   # a local Asterisk (as root)
voxtra run app:create_app                           # serve the app
voxtra call 100 --dtmf 1                            # from another shell: call it
pytest                                              # the tests (they start their own Asterisk)
```
'''

DOCKERFILE = '''FROM python:3.11-slim
WORKDIR /app
RUN pip install --no-cache-dir "voxtra-asterisk>=0.1"
COPY app.py ./
RUN useradd --system --home-dir /app voxtra && install -d -o voxtra /app/recordings
USER voxtra
HEALTHCHECK CMD ["voxtra", "check", "app:create_app"]
CMD ["voxtra", "run", "app:create_app"]
'''

PYPROJECT = '''[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["voxtra-asterisk[testing]"]

[tool.pytest.ini_options]
pythonpath = ["."]
'''


@click.command()
@click.argument("name")
def init(name: str) -> int:
    """Make the project NAME: an app, its settings, tests that call it through the
    pytest plugin's Asterisk, an Asterisk configuration and a Dockerfile. Its tests pass
    at once (pytest, from inside it)."""
    from voxtra.asterisk.conf import template_dir

    project = Path(name)
    if project.exists():
        raise click.ClickException(f"{project} exists already: choose another name")
    title = project.name
    files = {"app.py": APP.format(name=title), "tests/test_app.py": TEST,
             ".env.example": ENV, "README.md": README.format(name=title),
             "Dockerfile": DOCKERFILE, "pyproject.toml": PYPROJECT.format(name=title),
             ".gitignore": ".env\nrecordings/\n__pycache__/\n"}
    for relative, text in files.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    shutil.copytree(template_dir(), project / "asterisk-conf")
    click.echo(f"made {project}/: app.py, tests/, asterisk-conf/, Dockerfile, .env.example")
    click.echo(f"next: cd {project} && pytest   (then `voxtra run app:create_app`)")
    return 0
