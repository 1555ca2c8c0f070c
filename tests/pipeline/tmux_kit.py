"""Run `arrears` in a real 80-column terminal: a detached tmux pane, captured afterwards.

Each command runs in a fresh pane (`respawn-pane`) of one tmux server on a socket of its
own; the pane stays after the command ends (remain-on-exit), and `capture-pane -J` gives
every line as the terminal holds it, with the lines the terminal had to wrap joined again,
so a line wider than the pane shows up as a line of more than 80 columns.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.cells import cell_len

from tests.debian_kit import ensure_tools

__all__ = ["Capture", "Pane", "pane", "COLUMNS"]

COLUMNS = 80
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Capture:
    argv: tuple[str, ...]
    code: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def too_wide(self) -> list[str]:
        """Lines wider than the pane, but for a path alone on its line: the commands print
        those whole, so that copying one from the terminal gets all of it."""
        return [
            line
            for line in self.lines
            if cell_len(line) > COLUMNS and not re.fullmatch(r"[/~][^\s]*", line)
        ]

    def split_units(self, under: str) -> list[str]:
        """The units of `under`'s subtree whose name and code are not together on one line:
        the form's 汇总范围 line must break between units only."""
        from contracts.registry import Registry

        entries = [f"{u.name}（{u.code}）" for u in Registry.load().subtree(under)]
        return [e for e in entries if not any(e in line for line in self.lines)]


class Pane:
    def __init__(self, socket: str, env: Mapping[str, str]) -> None:
        self.socket = socket
        self.env = dict(env)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    def run(self, *argv: str, timeout: float = 240.0) -> Capture:
        """`arrears ARGV` in the pane; the screen and scroll-back once it has exited."""
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        status = Path(tempfile.mkdtemp(prefix="tmux-rc-")) / "rc"
        command = (
            f"cd {shlex.quote(str(ROOT))} && env -u COLUMNS -u LINES {exports} "
            f"{shlex.quote(sys.executable)} -m pipeline.cli {shlex.join(argv)}; "
            f"echo $? > {shlex.quote(str(status))}"
        )
        self.tmux("clear-history", "-t", "main")
        self.tmux("respawn-pane", "-k", "-t", "main", command)
        deadline = time.monotonic() + timeout
        # The command writes its exit status when it ends; the pane is dead once the shell is.
        while not (status.exists() and self._dead()):
            assert time.monotonic() < deadline, f"arrears {shlex.join(argv)} still running"
            time.sleep(0.2)
        code = int(status.read_text().strip())
        shutil.rmtree(status.parent, ignore_errors=True)
        shown = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", "main")
        lines = shown.rstrip("\n").split("\n")
        while lines and (not lines[-1].strip() or lines[-1].startswith("Pane is dead")):
            lines.pop()
        return Capture(tuple(argv), code, lines)

    def _dead(self) -> bool:
        return self.tmux("display", "-p", "-t", "main", "#{pane_dead}").strip() == "1"


@contextmanager
def pane(env: Mapping[str, str]) -> Iterator[Pane]:
    """A tmux server with one 80-column pane; killed at the end."""
    ensure_tools(["tmux"], ["tmux"])
    p = Pane(f"arrears-80-{uuid.uuid4().hex[:8]}", env)
    p.tmux("new-session", "-d", "-s", "main", "-x", str(COLUMNS), "-y", "50", "sleep 600")
    try:
        p.tmux("set-option", "-g", "remain-on-exit", "on")
        p.tmux("set-option", "-g", "history-limit", "20000")
        p.tmux("set-option", "-g", "default-terminal", "xterm-256color")
        assert p.tmux("display", "-p", "-t", "main", "#{pane_width}").strip() == str(COLUMNS)
        yield p
    finally:
        subprocess.run(["tmux", "-L", p.socket, "kill-server"], capture_output=True, timeout=30)
