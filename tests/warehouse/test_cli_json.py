"""Every command's `--json` parses and has the fields the README's "JSON output" section
lists, at every level (no broker here: the commands that need one are in
tests/integration/test_cli_json.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.cli_kit import assert_documented, documented_json
from tests.warehouse.conftest import Story

Cli = Callable[..., tuple[int, str, str]]


def _json(cli: Cli, *argv: str, code: int = 0) -> Any:
    got, out, err = cli(*argv, "--json")
    assert got == code, err
    return json.loads(out)


def test_the_readme_documents_every_command_with_json() -> None:
    assert set(documented_json()) == {
        "calendar",
        "units",
        "snapshots list",
        "snapshot",
        "replay",
        "diff",
        "check",
        "submit",
        "form",
        "infra status",
        "deadletters list",
        "ingest",
        "archive",
        "hotspots",
        "ledger",
        "bench ingest",
        "bench streams",
        "bench recovery",
        "bench replay",
        "bench replay --archive-only",
        "bench check",
    }


def test_offline_commands_print_their_documented_json(cli: Cli, story: Story) -> None:
    assert_documented("calendar", _json(cli, "calendar", "--today", "2024-12-31"))
    assert_documented("units", _json(cli, "units", "--under", "320400"))
    cutoff = ("--cutoff", "2024-12-31", "--from", "archive", "--quiet")
    first = _json(cli, "snapshot", *cutoff, "--as-of", story.o1_text, "--label", "cob")
    assert_documented("snapshot", first)
    assert first["label"] == "cob" and first["checked"] is None
    second = _json(cli, "snapshot", *cutoff, "--label", "restated")
    listed = _json(cli, "snapshots", "list")
    assert_documented("snapshots list", listed)
    assert [s["id"] for s in listed] == [first["id"], second["id"]]
    assert _json(cli, "snapshots", "list", "--cutoff", "2025-01-31") == []

    equal = _json(cli, "replay", "--verify", first["id"], "--from", "archive", "--quiet")
    assert (equal["verified"], equal["equal"], equal["differences"]) == (first["id"], True, [])
    differ = _json(
        cli, "replay", "--verify", first["id"], "--to", "end", "--from", "archive", code=4
    )
    assert_documented("replay", differ)
    assert differ["equal"] is False

    changes = _json(cli, "diff", first["id"], second["id"], "--from", "archive", "--quiet")
    assert_documented("diff", changes)

    # The story's figures fail a critical expectation: check exits 6, submit refuses.
    checked = _json(cli, "check", second["id"], "--dead-letters", "none", "--quiet", code=6)
    assert_documented("check", checked)
    assert checked["passed"] is False and checked["critical_failures"]
    refused = _json(cli, "submit", second["id"], "--dead-letters", "none", "--quiet", code=6)
    assert_documented("submit", refused)
    assert (refused["submitted"], refused["entry"]) == (False, None)
    after = {s["id"]: s for s in _json(cli, "snapshots")}
    assert (after[second["id"]]["checked"], after[second["id"]]["submitted_for"]) == ("failed", [])


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("bench", "argv"),
    [
        ("bench replay --archive-only", ["replay", "--archive-only", "--base", "1000"]),
        ("bench check", ["check"]),
    ],
)
def test_benchmarks_print_their_figures_as_documented(
    tmp_path: Path, bench: str, argv: list[str]
) -> None:
    """The benchmarks that need no broker, small: with --json the figures on stdout are the
    --out file's, with --quiet nothing else is said (ingest, streams and the Kafka replay:
    tests/integration/test_bench.py)."""
    out = tmp_path / "figures.json"
    work = ("--workdir", str(tmp_path / "work"), "--out", str(out))
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "bench", *argv, "--events", "2000", *work]
        + ["--json", "--quiet"],
        env={**os.environ, "ARREARS_STATE_DIR": str(tmp_path / "state")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    figures = json.loads(done.stdout)
    assert figures == json.loads(out.read_text(encoding="utf-8"))
    assert_documented(bench, figures)
