"""Debian tools a test tier needs (LibreOffice, Chromium, kcat, tmux), installed on first use.

A tier that needs a tool and cannot get it fails: a render or browser test that only
ever skips would prove nothing. Installing needs apt-get and root (or passwordless sudo
under CI); CI on a fresh machine gets the tools this way, so nothing is installed by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

__all__ = ["ensure_tools"]

_LOCK = threading.Lock()


def _can_install() -> bool:
    return shutil.which("apt-get") is not None and (
        os.environ.get("CI") is not None or os.geteuid() == 0
    )


def ensure_tools(tools: tuple[str, ...], packages: tuple[str, ...]) -> dict[str, str]:
    """{tool: path} for every tool, installing `packages` with apt-get when any is missing."""
    with _LOCK:
        missing = [tool for tool in tools if shutil.which(tool) is None]
        if missing:
            if not _can_install():
                pytest.fail(
                    f"{', '.join(missing)} not found and cannot be installed here (needs "
                    f"root or CI, and apt-get): install {' '.join(packages)}"
                )
            sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for command in (
                [*sudo, "apt-get", "update", "-q"],
                [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            ):
                done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    pytest.fail(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
        found = {tool: shutil.which(tool) for tool in tools}
        absent = [tool for tool, path in found.items() if path is None]
        if absent:
            pytest.fail(f"installed {' '.join(packages)} but {', '.join(absent)} still missing")
        return {tool: path for tool, path in found.items() if path is not None}
