"""The fault tier (`pytest -m faults`): each test injects one fault against the real broker
and real workers, and records how it ended (`tests.faults.verdict.Verdict`). At the end of
the run the table of every row is printed, and written as JSON to `$ARREARS_FAULT_TABLE`
when that is set (else `arrears-fault-table.json` in the temp dir)."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.verdict import Verdict

_ROWS = pytest.StashKey[list[Verdict]]()

HEADER = (
    "fault",
    "sent",
    "events",
    "lost",
    "double",
    "cells",
    "differing",
    "entries",
    "differing",
    "recovery s",
)


@pytest.fixture
def record_verdict(request: pytest.FixtureRequest) -> Callable[[Verdict], None]:
    """Add a row to the tier's table, then fail the test unless it is clean."""

    def record(verdict: Verdict) -> None:
        request.config.stash.setdefault(_ROWS, []).append(verdict)
        assert verdict.clean, verdict.explain()

    return record


def _cells(v: Verdict) -> tuple[str, ...]:
    recovery = "-" if v.recovery_s is None else f"{v.recovery_s:.1f}"
    numbers = (
        v.sent,
        v.events,
        v.lost,
        v.double,
        v.cells,
        v.differing,
        v.entries,
        v.entries_differing,
    )
    return (v.fault, *(f"{n:,}" for n in numbers), recovery)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    rows = config.stash.get(_ROWS, [])
    if not rows:
        return
    table = [HEADER, *(_cells(v) for v in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    terminalreporter.section("fault table")
    for n, row in enumerate(table):
        first = row[0].ljust(widths[0])
        rest = "  ".join(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))
        terminalreporter.write_line(f"{first}  {rest}")
        if n == 0:
            terminalreporter.write_line("-" * (sum(widths) + 2 * (len(widths) - 1)))
    target = os.environ.get("ARREARS_FAULT_TABLE")
    path = Path(target) if target else Path(tempfile.gettempdir()) / "arrears-fault-table.json"
    path.write_text(
        json.dumps([dataclasses.asdict(v) for v in rows], ensure_ascii=False, indent=2) + "\n"
    )
    terminalreporter.write_line(f"fault table written to {path}")
