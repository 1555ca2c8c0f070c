"""Debian packages a test tier needs (LibreOffice, tmux): installed with apt-get when
missing, as root or under CI; elsewhere the test fails saying what to install (a tier that
only ever skips is a defect)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

import pytest

__all__ = ["ensure_tools"]


def _can_install() -> bool:
    return shutil.which("apt-get") is not None and (
        os.environ.get("CI") is not None or os.geteuid() == 0
    )


def ensure_tools(tools: Sequence[str], packages: Sequence[str]) -> None:
    """Make every command in `tools` available, installing `packages` if one is missing."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    if not _can_install():
        pytest.fail(
            f"{', '.join(missing)} not found and cannot be installed here (needs root or "
            f"CI, and apt-get): install {' '.join(packages)}"
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
    still = [tool for tool in tools if shutil.which(tool) is None]
    if still:
        pytest.fail(f"installed {' '.join(packages)} but {', '.join(still)} is still missing")
