"""The command line in pipes and with its global options: a reader that goes away is not
a failure, `--version` answers, `--state-dir` moves the state for every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "pipeline.cli"]


def _closed_pipe() -> int:
    """The write end of a pipe whose reader is gone: every write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write


@pytest.mark.parametrize(
    "argv", [["calendar", "--today", "2024-12-20"], ["calendar", "--help"], ["--help"]]
)
def test_a_closed_pipe_is_not_an_error(argv: list[str]) -> None:
    write = _closed_pipe()
    try:
        done = subprocess.run([*CLI, *argv], stdout=write, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr


def test_version_and_state_dir(tmp_path: Path) -> None:
    version = subprocess.run([*CLI, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("arrears ")
    env = {k: v for k, v in os.environ.items() if k != "ARREARS_STATE_DIR"}
    listed = subprocess.run(
        [*CLI, "--state-dir", str(tmp_path / "s"), "infra", "status", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert listed.returncode == 0, listed.stderr
    from pipeline.cli import module_for

    assert module_for(["--state-dir", "/x", "form", "--unit", "1"]) == "pipeline.commands.form"
    assert module_for(["--version"]) is None


def test_the_form_and_listings_into_head_exit_0(tmp_path: Path) -> None:
    from tests.pipeline.cli_kit import made_up_snapshot

    snap = made_up_snapshot(tmp_path / "snapshots")
    env = {**os.environ, "ARREARS_STATE_DIR": str(tmp_path)}
    for argv in (
        ["report", snap.id, "--unit", "320400", "--format", "table"],
        ["report", snap.id, "--unit", "320400", "--format", "csv"],
        ["snapshots"],
        ["units"],
        ["calendar", "--today", "2024-12-31", "--json"],
    ):
        done = subprocess.run(
            f"set -o pipefail; {' '.join(CLI)} {' '.join(argv)} | head -1",
            shell=True,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            executable="/bin/bash",
        )
        assert done.returncode == 0 and done.stdout.count("\n") == 1, (argv, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
