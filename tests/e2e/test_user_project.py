"""The README's "Testing your own app" example, in a fresh project outside this repository
(no pytest configuration of ours applies there), run as its author would run it."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def readme_example() -> str:
    section = README.read_text().split("## Testing your own app", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert example is not None
    return example.group(1)


async def run_pytest(project: Path, source: str) -> tuple[int, str]:
    (project / "test_my_app.py").write_text(source)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_app.py",
        cwd=project, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_the_readme_test_example_passes_in_a_fresh_project(tmp_path: Path) -> None:
    guide = (README.parent / "site" / "docs" / "guides" / "testing.md").read_text()
    shown = re.search(r"```python\n(.*?)```", guide, re.DOTALL)
    assert shown is not None and shown.group(1) == readme_example()  # the site shows it too
    code, text = await run_pytest(tmp_path, readme_example())
    assert code == 0, text
    assert "1 passed" in text and "not natively supported" not in text
    assert "warning" not in text.lower(), text  # the plugin brings no warning


async def test_a_handler_that_raises_fails_the_users_test_with_its_traceback(
        tmp_path: Path) -> None:
    # The call still looks answered and hung up to the caller: only the app's log knows.
    answered = "    await call.answer()\n"
    source = readme_example()
    assert answered in source
    source = source.replace(answered, answered + "    raise RuntimeError('the menu is gone')\n")
    code, text = await run_pytest(tmp_path, source)
    assert code == 1 and "1 failed" in text, text
    assert "errors were logged during the test" in text
    assert "handler hello failed on call" in text
    assert "RuntimeError: the menu is gone" in text
    assert re.search(r'test_my_app\.py", line \d+, in hello', text), text  # the traceback


async def test_an_app_process_that_prints_an_error_fails_the_test(tmp_path: Path) -> None:
    """Apps run as processes (``AppProcess``) are checked too: their errors are in their
    output, not in the test's log."""
    (tmp_path / "app.py").write_text(
        "import logging\n"
        "logging.basicConfig(format='%(levelname)s %(name)s: %(message)s')\n"
        "logging.getLogger('voxtra.app').error('handler menu failed on call 1')\n"
        "print('ready', flush=True)\n")
    source = (
        "from pathlib import Path\n"
        "from voxtra.testing.apps import AppProcess\n\n"
        "async def test_app(voxtra_settings):\n"
        "    app = await AppProcess.start(Path(__file__).parent / 'app.py', voxtra_settings)\n"
        "    await app.wait_for(b'ready')\n"
        "    assert await app.exited() == 0\n")
    code, text = await run_pytest(tmp_path, source)
    assert code == 1 and "1 failed" in text, text
    assert "ERROR voxtra.app: handler menu failed on call 1" in text
    code, text = await run_pytest(tmp_path, source.replace(
        "async def", "import pytest\n\n@pytest.mark.expected_errors\nasync def", 1))
    assert code == 0 and "1 passed" in text, text
