"""The `arrears` command as the fault tier runs it: a separate process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infra.settings import Settings
from tests.streams.kafka_kit import log_ends

__all__ = ["arrears", "generate", "records_in_log"]

ROOT = Path(__file__).resolve().parents[2]


def arrears(settings: Settings, *argv: str) -> subprocess.Popen[str]:
    """`arrears ARGV` started against `settings` (its output piped)."""
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *argv],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def generate(path: Path, events: int, seed: int) -> list[bytes]:
    """A generated campaign file (`arrears generate`) and its lines."""
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "generate", "--events", str(events)]
        + ["--seed", str(seed), "--out", str(path), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return path.read_bytes().splitlines()


def records_in_log(settings: Settings) -> int:
    """Records in the source topics (0 while the broker does not answer)."""
    try:
        return sum(sum(parts.values()) for parts in log_ends(settings).values())
    except Exception:  # noqa: BLE001 - the broker may be starting
        return 0
