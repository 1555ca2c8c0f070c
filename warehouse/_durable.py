"""Durable file operations: write, fsync, rename, fsync the directory; and test hooks."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

#: Test hook: `ARREARS_WAREHOUSE_HOOK=<point>:pause|kill` stops a writer at a named point
#: (e.g. `snapshot.temp-written:pause`), so tests can SIGKILL it mid-write.
HOOK_ENV = "ARREARS_WAREHOUSE_HOOK"


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def hook(point: str) -> None:
    """Pause (printing a marker line) or kill this process at `point` when the env asks."""
    wanted = os.environ.get(HOOK_ENV, "")
    name, _, action = wanted.partition(":")
    if name != point:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    print(f"HOOK {point} pid={os.getpid()}", file=sys.stderr, flush=True)
    while True:  # paused until the test kills us
        time.sleep(0.1)
