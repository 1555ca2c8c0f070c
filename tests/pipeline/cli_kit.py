"""Snapshots with made-up figures for tests of the command line's output (no broker)."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from contracts.calendar import load_campaign
from contracts.cells import CELLS
from contracts.cutoff import parse_cutoff
from contracts.registry import Registry
from warehouse.cells_table import cells_frame
from warehouse.snapshot import Snapshot, write_snapshot

__all__ = ["made_up_snapshot", "documented_json", "assert_documented"]


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


README = Path(__file__).resolve().parents[2] / "README.md"


def documented_json() -> dict[str, dict[str, set[str]]]:
    """The README's "JSON output" section: per command (`calendar`, `infra status`), each
    documented level ("object", "list of", "reports[]", "broker") and its keys."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### JSON output", 1)[1].split("\n### ", 1)[0]
    out: dict[str, dict[str, set[str]]] = {}
    for block in re.split(r"^#### ", section, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        found = re.match(r"`arrears (.+?) --json`", head)
        assert found, head
        levels: dict[str, set[str]] = {}
        for bullet in re.split(r"^- ", body, flags=re.M)[1:]:
            label, _, rest = " ".join(bullet.split()).partition(": ")
            rest = re.sub(r"\([^)]*\)", "", rest)  # explanations hold no field names
            levels[label.strip("`")] = set(re.findall(r"`([a-z0-9_]+)`", rest))
        out[found.group(1)] = levels
    return out


def assert_documented(command: str, body: Any) -> None:
    """`body` (a command's parsed --json output) has exactly the README's keys, at every
    documented level (and at most the "with ..." lines' besides); a documented list must
    not be empty, so its items are checked."""
    levels = documented_json()[command]
    if "list of" in levels:
        assert isinstance(body, list) and body, (command, body)
        for item in body:
            assert set(item) == levels["list of"], (command, sorted(item))
        return
    # "with --reference: ..." lines: fields the object may have besides its own.
    optional = {key for label, keys in levels.items() if label.startswith("with ") for key in keys}
    assert levels["object"] <= set(body) <= levels["object"] | optional, (command, sorted(body))
    for label, keys in levels.items():
        if label == "object" or label.startswith("with "):
            continue
        if label.endswith("[]"):
            items = body[label[:-2]]
            assert isinstance(items, list) and items, (command, label)
            for item in items:
                assert set(item) == keys, (command, label, sorted(item))
        else:
            assert set(body[label]) == keys, (command, label, sorted(body[label]))
