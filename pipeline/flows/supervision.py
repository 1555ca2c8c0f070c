"""The supervision views for the commands: from a snapshot (its stored tables, or the archive
at its offsets) or at a cutoff from the whole archive; and the ones a snapshot stores."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from contracts.cutoff import Cutoff
from contracts.errors import ContractError
from contracts.problems import LedgerLine
from contracts.supervision import LeadCount, Rules, load_rules
from pipeline.commands.snapshot import Context
from pipeline.commands.snapshots import topics_of
from pipeline.errors import CliError, ExitCode
from warehouse.batch import BatchRebuild
from warehouse.errors import WarehouseError
from warehouse.replay import Rebuilt
from warehouse.snapshot import Snapshot, resolve_snapshot
from warehouse.supervision import (
    HOTSPOTS_FILE,
    LEDGER_FILE,
    SUMMARY_FILE,
    Supervision,
    counts_from_frame,
    lines_from_frame,
    snapshot_note,
    snapshot_tables,
    supervise_rebuild,
)

__all__ = [
    "Views",
    "rules_of",
    "views",
    "cut_supervision",
    "stored_views",
    "read_owners",
    "parse_window",
]


@dataclass(frozen=True)
class Views:
    """What the hotspots, ledger and summary commands show, and where it came from."""

    counts: list[LeadCount]
    lines: list[LedgerLine]
    cutoff: Cutoff
    rules: Rules
    origin: str
    snapshot: Snapshot | None = None
    #: the final report's event figures (warehouse.summary.EVENT_FIGURES_SCHEMA)
    figures: pl.DataFrame | None = None


def rules_of(ctx: Context, window_days: int | None = None) -> Rules:
    try:
        return load_rules(ctx.campaign.source).with_window(window_days)
    except (ContractError, OSError) as err:
        raise CliError(str(err), ExitCode.USAGE) from err


def parse_window(text: str) -> int:
    """`7d` or `7` -> 7 days."""
    digits = text.strip().removesuffix("d")
    if not digits.isdigit() or int(digits) < 1:
        raise CliError(f"--window {text!r} is not a number of days such as 7d", ExitCode.USAGE)
    return int(digits)


def cut_supervision(ctx: Context, rebuilt: Rebuilt, cutoff: Cutoff) -> Supervision | None:
    """The views of a fresh rebuild (None for the record-by-record path, which keeps no
    positions); the archive's payloads for an archive batch, the records for Kafka's."""
    if not isinstance(rebuilt.rebuild, BatchRebuild):
        return None
    archive = ctx.archive if rebuilt.source == "archive" else None
    try:
        return supervise_rebuild(rebuilt.rebuild, cutoff, rules_of(ctx), archive=archive)
    except (WarehouseError, OSError) as err:
        raise CliError(f"cannot compute the hotspots and the ledger: {err}") from err


def stored_views(ctx: Context, rebuilt: Rebuilt, cutoff: Cutoff) -> dict[str, Any]:
    """`write_snapshot`'s `tables` and `notes` for a snapshot cut from `rebuilt`: its hotspot
    counts and ledger beside cells.parquet (none from a record-by-record rebuild)."""
    sup = cut_supervision(ctx, rebuilt, cutoff)
    if sup is None:
        return {}
    return {"tables": snapshot_tables(sup), "notes": snapshot_note(sup)}


def views(
    ctx: Context,
    snapshot: str | None,
    cutoff_text: str | None,
    window_days: int | None,
    *,
    need_figures: bool = False,
) -> Views:
    """A snapshot's views: the tables it stores when they were made with the window asked
    for (and hold the summary's figures, if `need_figures`), with no archive read at all;
    else the archive at its offsets. Or the views at `cutoff_text` from the whole archive."""
    if (snapshot is None) == (cutoff_text is None):
        raise CliError("give a SNAPSHOT or --cutoff DATE (one of them)", ExitCode.USAGE)
    rules = rules_of(ctx, window_days)
    if snapshot is None:
        assert cutoff_text is not None
        cutoff = ctx.cutoff(cutoff_text)
        sup = _supervise(ctx, ctx.rebuild("archive", None), cutoff, rules)
        origin = f"the archive {ctx.archive}, to its end"
        return Views(sup.counts, sup.lines, cutoff, rules, origin, figures=sup.figures)
    try:
        snap = resolve_snapshot(snapshot, ctx.root)
    except WarehouseError as err:
        raise CliError(str(err), ExitCode.USAGE) from err
    cutoff = ctx.cutoff(snap.cutoff)
    kept = snap.meta.get("supervision") or {}
    try:
        counts, ledger, figures = (
            snap.table(n) for n in (HOTSPOTS_FILE, LEDGER_FILE, SUMMARY_FILE)
        )
    except WarehouseError as err:
        raise CliError(str(err)) from err
    stored = counts is not None and ledger is not None and (figures is not None or not need_figures)
    if stored and kept.get("window_days") == rules.window_days:
        assert counts is not None and ledger is not None
        return Views(
            counts_from_frame(counts),
            lines_from_frame(ledger),
            cutoff,
            rules,
            f"snapshot {snap.id} (stored)",
            snap,
            figures,
        )
    ctx.topics = topics_of(snap, ctx.topics)
    sup = _supervise(ctx, ctx.rebuild("archive", snap.offsets), cutoff, rules)
    origin = f"snapshot {snap.id} (the archive at its offsets)"
    return Views(sup.counts, sup.lines, cutoff, rules, origin, snap, sup.figures)


def _supervise(ctx: Context, rebuilt: Rebuilt, cutoff: Cutoff, rules: Rules) -> Supervision:
    assert isinstance(rebuilt.rebuild, BatchRebuild)
    try:
        return supervise_rebuild(rebuilt.rebuild, cutoff, rules, archive=ctx.archive)
    except (WarehouseError, OSError) as err:
        raise CliError(f"cannot compute the hotspots and the ledger: {err}") from err


def read_owners(path: Path) -> dict[str, str]:
    """An owners file: CSV with a header line `id,owner` (an employer's credit code or a
    project's id -> the person or team that follows it)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            if "id" not in fields or "owner" not in fields:
                raise CliError(
                    f"--owners {path}: the header line must name the columns id and owner "
                    f"(found {', '.join(fields) or 'none'}); e.g.\n  id,owner\n  "
                    "91320412MA1N2J6P5X,武进区监察大队 张三",
                    ExitCode.USAGE,
                )
            out = {}
            for number, row in enumerate(reader, 2):
                ident, owner = (row.get("id") or "").strip(), (row.get("owner") or "").strip()
                if not ident or not owner:
                    raise CliError(
                        f"--owners {path}:{number}: both id and owner are needed", ExitCode.USAGE
                    )
                out[ident] = owner
            return out
    except OSError as err:
        raise CliError(f"--owners {path}: {err.strerror or err}", ExitCode.USAGE) from err
