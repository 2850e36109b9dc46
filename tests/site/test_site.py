"""The documentation site (``site/``), built strictly and opened page by page in a real
browser (Debian's Chromium, headless, driven by Selenium with chromedriver).

Each page must render with no console error, every internal link must reach a page
(and its heading, when it names one) and every image must load; the search box must
find "barge-in". The site is served from a local HTTP server, as a reader's browser
would get it: no page may need anything from another host.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
import urllib.parse
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The site, built with ``mkdocs build --strict``, served on loopback."""
    built = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f",
         str(REPO / "site" / "mkdocs.yml"), "-d", str(built)],
        capture_output=True, text=True, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
        check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", built
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    yield driver
    driver.quit()


def pages(built: Path) -> list[str]:
    return sorted(str(p.relative_to(built).parent).replace(".", "") + "/"
                  for p in built.rglob("index.html") if "assets" not in p.parts)


def test_every_page_renders_with_working_links_and_images(
        site: tuple[str, Path], browser: webdriver.Chrome) -> None:
    base, built = site
    found = pages(built)
    assert len(found) >= 15, found  # home, quickstart, concepts, guides, reference, ...
    problems = []
    for page in found:
        url = urllib.parse.urljoin(base + "/", page.lstrip("/"))
        browser.get(url)
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        problems += [f"{page}: console: {e}" for e in errors]
        title = browser.find_element(By.TAG_NAME, "h1").text
        if not title:
            problems.append(f"{page}: no title")
        for link in browser.find_elements(By.CSS_SELECTOR, "article a[href]"):
            href = link.get_attribute("href") or ""
            if not href.startswith(base):
                continue
            target = urllib.parse.urlsplit(href)
            path = built / urllib.parse.unquote(target.path).lstrip("/")
            path = path / "index.html" if path.is_dir() else path
            if not path.is_file():
                problems.append(f"{page}: broken link {href}")
            elif target.fragment and f'id="{target.fragment}"' not in path.read_text():
                problems.append(f"{page}: link to a missing heading {href}")
        for image in browser.find_elements(By.TAG_NAME, "img"):
            if not browser.execute_script("return arguments[0].naturalWidth > 0", image):
                problems.append(f"{page}: image not loaded {image.get_attribute('src')}")
    assert problems == []


def test_the_search_box_finds_barge_in(site: tuple[str, Path],
                                       browser: webdriver.Chrome) -> None:
    base, _ = site
    browser.get(base + "/")
    browser.find_element(By.CSS_SELECTOR, "label.md-search__icon, label[for='__search']"
                         ).click()
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.send_keys("barge-in")

    def found(b: webdriver.Chrome) -> list[str] | None:
        """The results' texts once they mention barge-in (the list is redrawn as the
        search index answers: an element read meanwhile may be gone)."""
        texts = [r.text.lower() for r in
                 b.find_elements(By.CSS_SELECTOR, ".md-search-result__item")]
        return texts if any("barge" in t for t in texts) else None

    texts = WebDriverWait(browser, 15, ignored_exceptions=[StaleElementReferenceException]
                          ).until(found)
    assert len(texts) >= 2, texts
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_references_are_generated_from_the_code() -> None:
    """Every setting (with its variable and its comment in the source) and every
    command is in the reference pages, so they cannot fall behind the code."""
    import importlib.util

    from voxtra.cli import cli
    from voxtra.settings import VoxtraSettings

    spec = importlib.util.spec_from_file_location("site_hooks", REPO / "site" / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    settings = hooks.settings_reference()
    for name in VoxtraSettings.model_fields:
        assert f"| `{name}` | `VOXTRA_{name.upper()}` |" in settings, name
    assert "| `voice.turn.min_endpointing_delay` |" in settings
    assert "Silence that ends a turn that looks complete" in settings  # the field's comment
    commands = hooks.cli_reference()
    for name in cli.commands:
        assert f"## `voxtra {name}`" in commands, name
    assert "## `voxtra campaign pause`" in commands


def voxtra_commands(line: str) -> list[list[str]]:
    """The ``voxtra`` commands of a shell line (also inside ``$(...)``), as arguments."""
    found = []
    for part in re.split(r"&&|\|\||;|\||\$\(|\)", re.sub(r"\s+#.*$", "", line)):
        words = part.replace('"', " ").split()
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)  # NAME=value before the command
        if words and words[0].endswith("voxtra"):
            found.append(words[1:])
    return found


def parse_command(args: list[str]) -> None:
    """Parse ``voxtra ARGS`` as the command would (options, arguments, subcommands),
    without running it: click's UsageError if it would not take them."""
    import click

    from voxtra.cli import cli

    command: click.Command = cli
    context = cli.make_context("voxtra", list(args))
    while isinstance(command, click.Group):
        with warnings.catch_warnings():  # click 8.2 deprecates protected_args, for 9.0
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = [*context.protected_args, *context.args]
        sub = command.get_command(context, rest[0])
        if sub is None:
            raise click.UsageError(f"no command {rest[0]!r}")
        command, context = sub, sub.make_context(rest[0], rest[1:], parent=context)


def test_every_snippet_is_a_tested_file_or_a_command_voxtra_takes() -> None:
    """The guides cannot drift from the code: every Python, YAML or configuration block is
    included from a file of the repository (examples run by a test, the Docker stack run
    by ``docker/ci.sh``, the bundled Asterisk configuration) or is the README's tested
    one; every ``voxtra`` command in a shell block parses with the command's own options;
    ``text`` blocks are output and diagrams."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    tests = "".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").rglob("*.py"))
    problems, commands = [], 0
    for page in sorted((REPO / "site" / "docs").rglob("*.md")):
        name = page.relative_to(REPO / "site" / "docs")
        text = page.read_text(encoding="utf-8")
        for language, body in re.findall(r"^```(\w*)\n(.*?)^```$", text, re.DOTALL | re.M):
            included = re.findall(r'^--8<-- "([^":]+)(?::\w+)?"$', body, re.MULTILINE)
            if language == "sh":
                for line in body.splitlines():
                    for args in voxtra_commands(line):
                        commands += 1
                        try:
                            parse_command(args)
                        except Exception as exc:  # click's usage errors
                            problems.append(f"{name}: voxtra {' '.join(args)}: {exc}")
            elif language == "text":
                continue
            elif included and len(included) == len(body.strip().splitlines()):
                for path in included:
                    if path.startswith("examples/") and Path(path).name not in tests:
                        problems.append(f"{name}: {path} is run by no test")
            elif not (language == "python" and body in readme):
                problems.append(f"{name}: a {language or 'plain'} block of its own")
    assert problems == []
    assert commands >= 10
