"""The sandbox root's build: its steps shown as they come, and ids of its own for the
user Asterisk runs as (the host's account with the same id would share its rights)."""

from __future__ import annotations

import logging
import os
import pwd
from pathlib import Path

import pytest

from voxtra.sandbox import rootfs


def test_the_builds_phases_are_shown_and_the_package_lines_are_not(
        caplog: pytest.LogCaptureFixture) -> None:
    lines = ["I: Retrieving Release", "I: Retrieving libc6 2.41-1", "I: Extracting libc6...",
             "I: Configuring the base system...", "I: Base system installed successfully."]
    caplog.set_level(logging.INFO, logger="voxtra.sandbox.rootfs")
    code, output = rootfs._run_showing_phases(["printf", "%s\\n", *lines])
    assert code == 0 and output == lines
    shown = [r.getMessage().split(": ", 1)[1] for r in caplog.records]
    assert shown == ["Retrieving Release", "Extracting libc6...",
                     "Configuring the base system...", "Base system installed successfully."]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_asterisk_gets_ids_no_host_account_has(tmp_path: Path) -> None:
    host = next(p for p in pwd.getpwall() if p.pw_uid > 0)  # an account of this machine
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        f"root:x:0:0:root:/root:/bin/sh\nasterisk:x:{host.pw_uid}:{host.pw_uid}:Asterisk PBX:"
        "/var/lib/asterisk:/usr/sbin/nologin\n")
    (tmp_path / "etc" / "group").write_text(
        f"root:x:0:\naudio:x:29:asterisk\nasterisk:x:{host.pw_uid}:\n")
    spool = tmp_path / "var" / "spool" / "asterisk"
    spool.mkdir(parents=True)
    (spool / "file").write_text("")
    (spool / "link").symlink_to("/etc/passwd")  # the link itself, not the host file
    for path in (spool, spool / "file", spool / "link"):
        os.lchown(path, host.pw_uid, host.pw_uid)
    rootfs._own_ids(tmp_path, "asterisk")
    entry = (tmp_path / "etc" / "passwd").read_text().splitlines()[1].split(":")
    new = int(entry[2])
    assert entry[0] == "asterisk" and entry[3] == str(new) and entry[4] == "Asterisk PBX"
    assert new != host.pw_uid and new not in {p.pw_uid for p in pwd.getpwall()}
    assert (tmp_path / "etc" / "group").read_text().splitlines()[1:] == [
        "audio:x:29:asterisk", f"asterisk:x:{new}:"]
    for path in (spool, spool / "file", spool / "link"):
        assert (os.lstat(path).st_uid, os.lstat(path).st_gid) == (new, new)
    assert os.stat("/etc/passwd").st_uid == 0
    rootfs._own_ids(tmp_path, "asterisk")  # ids of its own already: nothing changes
    assert int((tmp_path / "etc" / "passwd").read_text().splitlines()[1].split(":")[2]) == new
