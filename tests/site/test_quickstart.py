"""The site's quickstart, followed as a newcomer follows it: its shell lines run as they
are written, in one bash, and its "Write FILE" steps write the file the page shows.

The page's first block is the README's two commands (the same lines, checked here), which
CI runs on a fresh machine before this test: ``scripts/setup.sh``, then ``pytest``. From
there the page alone is followed: activate the checkout's environment, make the app's
directory in ``~`` (a ``HOME`` of the test's own; the sandbox's root stays in the real
cache through ``XDG_CACHE_HOME``), write ``app.py``, start the sandbox, serve the app,
call it, stop the server as with Ctrl-C (SIGINT), write ``agent.py`` and hear the agent
answer the demo's spoken question. Two liberties, both of which a reader takes by
hand: a command that serves until stopped (``voxtra run``) runs in the background
until the next section begins, and the "second shell" is the same bash.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "site" / "docs" / "quickstart.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$')


def sh_lines(block: str) -> list[str]:
    """A shell block's commands, without comments and blank lines."""
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def script(page: str) -> str:
    """The bash script that does what the page says from "Your first app" on."""
    steps = ["set -euo pipefail", f"cd {shlex.quote(str(REPO))}"]
    stop_server = 'kill -INT "$server"; wait "$server"'
    serving = False
    start = page.index("## Your first app")
    for match in FENCE.finditer(page, start):
        before = page[:match.start()]
        new_section = page.rfind("\n## ", 0, match.start()) > page.rfind(
            "```", 0, match.start() - 1)
        if serving and new_section:  # the reader stops what serves (Ctrl-C)
            steps.append(stop_server)
            serving = False
        language, body = match.groups()
        if language == "python":
            written = re.findall(r"Write `([^`]+)`", before)[-1]
            included = INCLUDE.match(body.strip())
            assert included, f"{written}: not included from a file"
            text = (REPO / included.group(1)).read_text(encoding="utf-8")
            steps.append(f"cat > {shlex.quote(written)} <<'VOXTRA_EOF'\n{text}VOXTRA_EOF")
        elif language == "sh":
            for line in sh_lines(body):
                if line.startswith("voxtra run "):
                    serving = True
                    steps += [f"{line} > run.log 2>&1 & server=$!",
                              "for _ in $(seq 600); do grep -q 'routes:' run.log && break; "
                              "sleep 0.1; done; cat run.log"]
                else:
                    steps.append(f"echo {shlex.quote('$ ' + line)}; {line}")
    if serving:
        steps.append(stop_server)
    return "\n".join(steps) + "\n"


def test_the_quickstart_begins_with_the_readmes_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_readme = sh_lines(FENCE.search(readme).group(2))  # type: ignore[union-attr]
    first_page = sh_lines(FENCE.search(PAGE).group(2))  # type: ignore[union-attr]
    assert first_page == first_readme


def test_the_script_is_what_the_page_says() -> None:
    """The reading of the page: files written from the included examples, the commands
    in order, the server stopped before the agent's section."""
    text = script(PAGE)
    order = [text.index(step) for step in (
        "source .venv/bin/activate", "mkdir -p ~/hello && cd ~/hello", "cat > app.py",
        'voxtra sandbox up && eval "$(voxtra sandbox env)"', "voxtra run app:app >",
        "voxtra call 100", 'kill -INT "$server"', "cat > agent.py",
        "voxtra demo agent.py --agent")]
    assert order == sorted(order), text
    assert (REPO / "examples" / "voice_agent.py").read_text() in text


@pytest.mark.slow
def test_a_newcomer_follows_the_quickstart_to_a_call_and_an_agents_answer(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VOXTRA_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=cache,
               PATH=":".join(p for p in env.get("PATH", "").split(":") if ".venv" not in p))
    was_up = subprocess.run([str(REPO / ".venv" / "bin" / "voxtra"), "sandbox", "status"],
                            env=env, capture_output=True, check=False).returncode == 0
    try:
        done = subprocess.run(["bash", "-c", script(PAGE)], env=env, capture_output=True,
                              text=True, timeout=600, check=False)
    finally:
        if not was_up:
            subprocess.run([str(REPO / ".venv" / "bin" / "voxtra"), "sandbox", "down"],
                           env=env, capture_output=True, check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    served = (home / "hello" / "run.log").read_text()
    assert "routes:" in served and "ended: completed" in served, served
    assert "Traceback" not in out + served, out + served
    call, demo = out[out.index("$ voxtra call 100"):].split("$ voxtra demo")
    assert re.search(r"answered: +yes", call) and re.search(r"hung up by: +the app", call), call
    assert "hello world" in call.lower(), call  # the prompt, transcribed
    heard = re.search(r"the caller heard \(transcribed with Whisper\): '(.*)'", demo)
    assert heard, demo
    # The agent's answer: Saturday's hours (nine in the morning to five in the evening).
    assert re.search(r"(nine|9).*(five|5)", heard.group(1).lower()), heard.group(1)
