"""The README's "Testing your own app" example, in a fresh project outside this repository
(no pytest configuration of ours applies there), run as its author would run it."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


async def test_the_readme_test_example_passes_in_a_fresh_project(tmp_path: Path) -> None:
    section = README.read_text().split("## Testing your own app", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert example is not None
    (tmp_path / "test_my_app.py").write_text(example.group(1))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_app.py",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 180)
    text = out.decode()
    assert process.returncode == 0, text
    assert "1 passed" in text and "not natively supported" not in text
