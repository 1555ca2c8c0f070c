"""Test snapshots and archives in the fixed layouts, built from events through the real fold.

Until the warehouse writer lands, tests write the layout themselves (ARCHITECTURE.md):
`snapshots/<cutoff>/<id>/cells.parquet + meta.json` and the archive's Parquet files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from contracts.calendar import load_campaign
from contracts.cells import CELLS
from contracts.clock import epoch_ms
from contracts.events import Event
from contracts.fold import OpenCase, open_cases, rollup, tally, with_totals
from contracts.ledger import ACTIVE, Ledger
from contracts.quality import LedgerAnswer, SnapshotInput
from contracts.quality.event_rows import CONFLICT_SCHEMA
from tests.contracts import eventkit as ek

REGISTRY = ek.REGISTRY
CUTOFF = "2024-12-31T23:59:59+08:00"
CAMPAIGN = load_campaign()
SINCE_MS = epoch_ms(CAMPAIGN.window_start)
CUTOFF_MS = epoch_ms(CAMPAIGN.cutoff("progress").at)
CITY = "320400"
LEAVES = ("320402", "320404", "320411", "320412", "320413", "320471", "320481")
CELL_IDS = [c.id for c in CELLS]
TREE = {u.code: u.parent for u in REGISTRY}
Figures = dict[tuple[str, str], int]

_CIVIL = {"id": "91320411348581379L", "name": "常州某机械制造有限公司", "industry": "C3442"}


def unit_events(unit: str, *, day: int = 28) -> list[Event]:
    """A clean week-before-cutoff story for one unit: every source, nothing left open."""
    at = f"2024-12-{day:02d}T10:00:00+08:00"
    later = f"2024-12-{day + 1:02d}T10:00:00+08:00"
    case = f"C-{unit}"
    emp = {"employer": ek.BUILDER}
    return [
        ek.inspected(ek.FACTORY, workers=100, migrant=40, unit=unit, at=at),
        ek.inspected(ek.BUILDER, workers=80, migrant=60, project=ek.BOTH_PROJECT, unit=unit, at=at),
        ek.event(
            "arrears.verified",
            {
                "case_id": case,
                **emp,
                "project": ek.BOTH_PROJECT,
                "workers": 12,
                "amount": "36000.00",
            },
            unit=unit,
            at=at,
        ),
        ek.resolved(ek.BUILDER, workers=12, amount="36000.00", case_id=case, unit=unit, at=later),
        ek.event(
            "order.issued",
            {"case_id": case, **emp, "kind": "rectification", "document_no": f"DOC-{unit}"},
            unit=unit,
            at=later,
        ),
        ek.event(
            "case.transferred", {"case_id": f"P-{unit}", "employer": _CIVIL}, unit=unit, at=at
        ),
        ek.event("case.filed", {"case_id": f"P-{unit}", "employer": _CIVIL}, unit=unit, at=later),
        ek.event(
            "dispute.resolved",
            {
                "case_no": f"M-{unit}",
                "employer": ek.FACTORY,
                "workers": 5,
                "amount": "15000.00",
                "channel": "mediation",
                "new_employment_form": False,
            },
            unit=unit,
            at=at,
        ),
        ek.event(
            "execution.concluded",
            {
                "case_no": f"(2024)苏{unit[2:]}执1号",
                "employer": ek.FACTORY,
                "workers": 3,
                "amount": "9000.00",
                "new_employment_form": False,
            },
            unit=unit,
            at=at,
        ),
        ek.event(
            "lead.received",
            {
                "lead_id": f"L-{unit}",
                "intake": "centralized_reception",
                "workers_claimed": 4,
                "amount_claimed": "8000.00",
            },
            unit=unit,
            at=at,
        ),
    ]


def clean_events() -> list[Event]:
    return [e for unit in LEAVES for e in unit_events(unit)]


def _ledger(events: Iterable[Event]) -> Ledger:
    ledger = Ledger()
    for e in events:
        ledger.apply(e)
    return ledger


def own_figures(events: Iterable[Event], cutoff_ms: int = CUTOFF_MS) -> Figures:
    contributions = [c for cs in _ledger(events).effective().values() for c in cs]
    return tally(contributions, since_ms=SINCE_MS, cutoff_ms=cutoff_ms)


def still_open(events: Iterable[Event], cutoff_ms: int = CUTOFF_MS) -> list[OpenCase]:
    """The verified cases open among the events the Ledger holds effective: what `run_check`
    takes as `open_cases` (the command layer gets it from warehouse.batch)."""
    contributions = [c for cs in _ledger(events).effective().values() for c in cs]
    return open_cases(contributions, since_ms=SINCE_MS, cutoff_ms=cutoff_ms)


def active_ids(events: Iterable[Event]) -> pl.Series:
    """The keys (`contracts.ledger.scoped`) of the events `contracts.ledger.Ledger` holds
    active after `events` in this order, each once: the rows `prepare_events` marks
    effective are theirs (`ledger_answer` hands it the others)."""
    entries = _ledger(events).entries
    return pl.Series(
        "key",
        [eid for eid, e in entries.items() if e["s"] == ACTIVE and e["h"] is not None],
        dtype=pl.Utf8,
    )


def ledger_answer(events: Iterable[Event], cutoff_ms: int = CUTOFF_MS) -> LedgerAnswer:
    """What `run_check` takes as `ledger` with `archive_frame(events)` (which keeps this
    order within a source): the Ledger applied to `events` in this order (the command
    layer gets the same from warehouse.batch)."""
    events = list(events)
    ledger, conflicts, offsets = Ledger(), [], {}
    for e in events:
        topic = f"arrears.source.{e.source}"
        offset = offsets.get(topic, 0)
        offsets[topic] = offset + 1
        if ledger.apply(e).status == "conflict":
            conflicts.append((topic, 0, offset))
    inactive = [k for k, e in ledger.entries.items() if e["s"] != ACTIVE or e["h"] is None]
    return LedgerAnswer(
        inactive=pl.Series("key", inactive, dtype=pl.Utf8),
        conflicts=pl.DataFrame(conflicts, schema=CONFLICT_SCHEMA, orient="row"),
        open_cases=still_open(events, cutoff_ms),
    )


def cells_from(
    own: Mapping[tuple[str, str], int], rolled: Mapping[tuple[str, str], int] | None = None
) -> pl.DataFrame:
    """The snapshot's long frame: every unit x every cell, own and rollup (zeros included)."""
    own = with_totals(own)
    rolled = rollup(own, TREE) if rolled is None else rolled
    rows = []
    for unit in sorted(TREE):
        for cell in CELL_IDS:
            rows.append((unit, "own", cell, int(own.get((unit, cell), 0))))
            rows.append((unit, "rollup", cell, int(rolled.get((unit, cell), 0))))
    return pl.DataFrame(
        rows,
        schema={"unit": pl.Utf8, "scope": pl.Utf8, "cell": pl.Utf8, "value": pl.Int64},
        orient="row",
    )


def meta(
    snapshot_id: str = "snap-1",
    *,
    cutoff: str = CUTOFF,
    offsets: Mapping[str, Mapping[str, int]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "snapshot_id": snapshot_id,
        "cutoff": cutoff,
        "label": "close-of-business",
        "offsets": dict(offsets or {}),
        "created_at": "2025-01-01T09:00:00+08:00",
        "code_version": "0.1.0+test",
        "event_count": 0,
        "source": "archive",
        **extra,
    }


def snapshot_input(cells: pl.DataFrame, meta_: Mapping[str, Any] | None = None) -> SnapshotInput:
    return SnapshotInput(cells=cells, meta=dict(meta_ or meta()), label="test-snapshot")


def write_snapshot(
    root: Path,
    cells: pl.DataFrame,
    meta_: Mapping[str, Any] | None = None,
    cutoff_dir: str = "progress",
) -> Path:
    body = dict(meta_ or meta())
    path = root / "snapshots" / cutoff_dir / str(body["snapshot_id"])
    path.mkdir(parents=True)
    cells.write_parquet(path / "cells.parquet")
    (path / "meta.json").write_text(json.dumps(body, ensure_ascii=False, indent=2), "utf-8")
    return path


def archive_frame(events: Iterable[Event | tuple[Event, str]]) -> pl.DataFrame:
    """Archive rows (ARCHITECTURE.md columns): topic per source, one partition, offsets in order.

    Pass (event, raw_json) to archive different bytes than the event's own (e.g. a bad code).
    """
    rows, next_offset = [], {}
    for item in events:
        event, raw = item if isinstance(item, tuple) else (item, item.to_json())
        topic = f"arrears.source.{event.source}"
        offset = next_offset.get(topic, 0)
        next_offset[topic] = offset + 1
        rows.append(
            {
                "topic": topic,
                "partition": 0,
                "offset": offset,
                "event_id": event.event_id,
                "source": event.source,
                "type": event.type,
                "unit": event.unit,
                "occurred_at": event.occurred_at,
                "recorded_at": event.recorded_at,
                "supersedes": event.supersedes,
                "content_hash": event.content_hash,
                "raw": raw,
                "retracts": getattr(event.payload, "retracts", None),
            }
        )
    tz = pl.Datetime("ms", "Asia/Shanghai")
    return pl.DataFrame(
        rows,
        schema={
            "topic": pl.Utf8,
            "partition": pl.Int32,
            "offset": pl.Int64,
            "event_id": pl.Utf8,
            "source": pl.Utf8,
            "type": pl.Utf8,
            "unit": pl.Utf8,
            "occurred_at": tz,
            "recorded_at": tz,
            "supersedes": pl.Utf8,
            "content_hash": pl.Utf8,
            "raw": pl.Utf8,
            "retracts": pl.Utf8,
        },
    )


def write_archive(root: Path, frame: pl.DataFrame) -> Path:
    """The rows as the archiver writes them (warehouse.archive_files.write_part, one file per
    source, date, topic and partition)."""
    from warehouse.archive_files import write_part

    archive = root / "archive"
    dated = frame.with_columns(pl.col("occurred_at").dt.strftime("%Y-%m-%d").alias("_date"))
    for (source, date, topic, partition), part in dated.sort("offset").group_by(
        "source", "_date", "topic", "partition", maintain_order=True
    ):
        write_part(archive, source, date, topic, partition, part.drop("_date").to_dicts())
    return archive


def end_offsets(frame: pl.DataFrame) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in frame.group_by("topic", "partition").agg(pl.col("offset").max()).iter_rows():
        out.setdefault(row[0], {})[str(row[1])] = int(row[2]) + 1
    return out


def dead_letters(
    n_open: int, n_resolved: int = 0, *, at: str = "2024-12-20T10:00:00+08:00"
) -> pl.DataFrame:
    rows = []
    for i in range(n_open + n_resolved):
        original = json.dumps({"event_id": f"bad-{i}", "occurred_at": at, "unit": "320412"})
        rows.append(
            {
                "id": f"dl-{i}",
                "original": original,
                "file": "feed.jsonl",
                "line": i + 1,
                "reason": "uscc.check_char",
                "message": "employer.id: check character",
                "rejected_at": "2024-12-21T10:00:00+08:00",
                "status": "open" if i < n_open else "resolved",
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "id": pl.Utf8,
            "original": pl.Utf8,
            "file": pl.Utf8,
            "line": pl.Int64,
            "reason": pl.Utf8,
            "message": pl.Utf8,
            "rejected_at": pl.Utf8,
            "status": pl.Utf8,
        },
    )
