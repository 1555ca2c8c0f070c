"""Snapshots with made-up figures for tests of the command line's output (no broker)."""

from __future__ import annotations

import random
from pathlib import Path

from contracts.calendar import load_campaign
from contracts.cells import CELLS
from contracts.cutoff import parse_cutoff
from contracts.registry import Registry
from warehouse.cells_table import cells_frame
from warehouse.snapshot import Snapshot, write_snapshot

__all__ = ["made_up_snapshot"]


def made_up_snapshot(
    root: Path, *, label: str = "close-of-business", seed: int = 16, cutoff: str = "2024-12-31"
) -> Snapshot:
    """A snapshot of every Changzhou district with figures as large as a city's (万元 with
    six digits before the point), so a table shows its widest numbers."""
    registry = Registry.load()
    rng = random.Random(seed)
    own = {
        (unit.code, cell.id): rng.randrange(1, 10**10 if cell.measure.unit == "万元" else 10**6)
        for unit in registry.subtree("320400")
        for cell in CELLS
    }
    return write_snapshot(
        root,
        parse_cutoff(cutoff, load_campaign()),
        cells_frame(own, registry),
        {"t.inspection": {0: 10}},
        source="archive",
        event_count=10,
        label=label,
        registry=registry,
    )
