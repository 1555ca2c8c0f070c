"""Fixtures for the warehouse tier: the December story as an archive, and a CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from contracts.registry import Registry
from pipeline.cli import main
from tests.warehouse.logkit import Log, phase_one, phase_two
from warehouse.archive_files import archive_records
from warehouse.offsets import Offsets, format_offsets

REGISTRY = Registry.load()


@dataclass
class Story:
    log: Log
    o1: Offsets  # the log end at close of business (after phase one)
    archive: Path
    root: Path

    @property
    def o1_text(self) -> str:
        return format_offsets(self.o1)


@pytest.fixture
def story(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Story:
    """Both phases archived (no broker), state dir and cwd in tmp_path, topic prefix `t.`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARREARS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ARREARS_TOPIC_PREFIX", "t.")
    monkeypatch.delenv("ARREARS_CONFIG", raising=False)
    log = Log("t.")
    log.append(phase_one())
    o1 = log.end()
    log.append(phase_two())
    archive = tmp_path / "state" / "archive"
    archive_records(archive, log.records, REGISTRY)
    return Story(log, o1, archive, tmp_path / "state" / "snapshots")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `arrears ARGS...` in-process: (exit status, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([*argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run
