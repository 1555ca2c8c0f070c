"""Hotspots and the problem ledger in a batch (SPEC 10): the payloads of the events the
archive batch's Ledger holds effective, read back at the log positions it kept
(`BatchRebuild.positions`) as `contracts.casebook.Fact`s, folded by `contracts.casebook` and
`contracts.supervision`; the cases open among them are the batch's `open_cases`.

The tables are stored beside a snapshot's `cells.parquet` (`hotspots.parquet`, the lead
counts per unit and subject; `ledger.parquet`, the problem ledger's lines; `summary.parquet`,
the final report's figures no cell holds), so `replay --verify` can rebuild and compare
them like the cells, and the commands read them instead of the archive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from contracts.casebook import SUPERVISED_TYPES, Casebook, Fact, build_casebook, read_fact
from contracts.cutoff import Cutoff
from contracts.fold import OpenCase
from contracts.problems import LedgerLine, ledger_lines
from contracts.supervision import LeadCount, Rules, lead_counts
from warehouse.archive_files import archive_files, archive_paths
from warehouse.batch import BatchRebuild
from warehouse.errors import ArchiveError
from warehouse.summary import event_figures

__all__ = [
    "Supervision",
    "supervise",
    "effective_facts",
    "counts_frame",
    "counts_from_frame",
    "ledger_frame",
    "lines_from_frame",
    "supervise_rebuild",
    "snapshot_tables",
    "snapshot_note",
    "compare_tables",
    "HOTSPOTS_FILE",
    "LEDGER_FILE",
    "SUMMARY_FILE",
    "COUNTS_SCHEMA",
    "LEDGER_SCHEMA",
]

HOTSPOTS_FILE = "hotspots.parquet"
LEDGER_FILE = "ledger.parquet"
SUMMARY_FILE = "summary.parquet"

COUNTS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "unit": pl.String,
    "kind": pl.String,
    "id": pl.String,
    "name": pl.String,
    "leads": pl.Int64,
    "previous": pl.Int64,
    "substantiated": pl.Int64,
    "claimed_fen": pl.Int64,
    "workers_claimed": pl.Int64,
}
LEDGER_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "unit": pl.String,
    "kind": pl.String,
    "id": pl.String,
    "name": pl.String,
    "employer_id": pl.String,
    "leads_received": pl.Int64,
    "leads_substantiated": pl.Int64,
    "leads_merged": pl.Int64,
    "leads_open": pl.Int64,
    "cases_open": pl.Int64,
    "cases_closed": pl.Int64,
    "verified_fen": pl.Int64,
    "resolved_fen": pl.Int64,
    "workers": pl.Int64,
    "first_seen": pl.Date,
    "last_action": pl.String,
    "last_action_on": pl.Date,
    "days_open": pl.Int64,
    "working_days_left": pl.Int64,
    "status": pl.String,
    "open_cases": pl.List(pl.String),
}


@dataclass(frozen=True)
class Supervision:
    """What a batch found at one cutoff: the casebook, the hotspots' lead counts (for the
    rules' window), the ledger's lines and the final report's event figures, for every unit."""

    book: Casebook
    rules: Rules
    counts: list[LeadCount]
    lines: list[LedgerLine]
    figures: pl.DataFrame  # warehouse.summary.EVENT_FIGURES_SCHEMA


def supervise(
    facts: Iterable[Fact], cutoff: Cutoff, rules: Rules, still_open: list[OpenCase]
) -> Supervision:
    """The supervision views of the effective events' `facts` at `cutoff` (SPEC 4's window),
    the verified cases `still_open` among them (`contracts.fold.open_cases`)."""
    book = build_casebook(
        facts, since_ms=cutoff.since_ms, cutoff_ms=cutoff.cutoff_ms, still_open=still_open
    )
    return Supervision(
        book,
        rules,
        lead_counts(book, rules.window_days),
        ledger_lines(book, rules),
        event_figures(book),
    )


def supervise_rebuild(
    rebuild: BatchRebuild, cutoff: Cutoff, rules: Rules, *, archive: Path | None = None
) -> Supervision:
    """`supervise` over the effective events of a batch rebuild (archive or Kafka rows), the
    open cases as the batch's `open_cases` says."""
    facts = effective_facts(rebuild, archive=archive)
    return supervise(facts, cutoff, rules, rebuild.open_cases(cutoff))


def effective_facts(rebuild: BatchRebuild, *, archive: Path | None = None) -> Iterator[Fact]:
    """The facts of the supervised events (`contracts.casebook.SUPERVISED_TYPES`) the Ledger
    holds effective, read back from their records (`contracts.casebook.read_fact`): from the
    archive's `raw` column at the positions the batch kept, or, for the Kafka replay's rows,
    from its record files."""
    if rebuild.positions is None:
        raise ArchiveError("this rebuild kept no effective positions (not a batch rebuild)")
    positions = rebuild.positions.collect(engine="streaming")
    if "raw_row" in positions.columns and rebuild.raws is not None:
        records = _replayed_records(rebuild.raws, positions["raw_row"].to_list())
    else:
        if archive is None:
            raise ArchiveError("the effective events of an archive batch need its directory")
        records = _archived_records(archive, positions)
    for record in records:
        fact = read_fact(record)
        if fact.type in SUPERVISED_TYPES:
            yield fact


#: Records read back at a time: memory stays a chunk's, not the log's.
_CHUNK = 50_000
#: How a supervised record shows its type before it is decoded.
_MARKS = tuple(f'"{t}"'.encode() for t in sorted(SUPERVISED_TYPES))


def _replayed_records(
    raws: Callable[[Iterable[int]], list[bytes]], rows: list[int]
) -> Iterator[bytes]:
    """The Kafka replay's records by row number, a chunk at a time; a record that names no
    supervised type (its "type" value) is not decoded at all."""
    for start in range(0, len(rows), _CHUNK):
        for record in raws(rows[start : start + _CHUNK]):
            if any(mark in record for mark in _MARKS):
                yield record


def _archived_records(root: Path, positions: pl.DataFrame) -> Iterator[bytes]:
    """The supervised rows' records at `positions`, a few hundred archive files at a time."""
    wanted = {str(t) for t in positions["topic"].unique().to_list()}
    paths = archive_paths(f for f in archive_files(root) if f.topic in wanted)
    keys = positions.select(
        "topic", pl.col("partition").cast(pl.Int64), pl.col("offset").cast(pl.Int64)
    ).lazy()
    for start in range(0, len(paths), 256):
        found = (
            pl.scan_parquet(paths[start : start + 256], hive_partitioning=False)
            .select(
                "topic",
                pl.col("partition").cast(pl.Int64),
                pl.col("offset").cast(pl.Int64),
                "type",
                "raw",
            )
            .filter(pl.col("type").is_in(sorted(SUPERVISED_TYPES)))
            .join(keys, on=["topic", "partition", "offset"], how="semi")
            .collect(engine="streaming")
        )
        for raw in found["raw"].to_list():
            yield str(raw).encode()


# --- tables -----------------------------------------------------------------------------------


def counts_frame(counts: list[LeadCount]) -> pl.DataFrame:
    return pl.DataFrame([c._asdict() for c in counts], schema=COUNTS_SCHEMA, orient="row").sort(
        "unit", "kind", "id"
    )


def counts_from_frame(frame: pl.DataFrame) -> list[LeadCount]:
    return [LeadCount(*row) for row in frame.select(list(COUNTS_SCHEMA)).iter_rows()]


def ledger_frame(lines: list[LedgerLine]) -> pl.DataFrame:
    rows = [{k: getattr(line, k) for k in LEDGER_SCHEMA} for line in lines]
    for row in rows:
        row["open_cases"] = list(row["open_cases"])
    return pl.DataFrame(rows, schema=LEDGER_SCHEMA, orient="row")


def lines_from_frame(frame: pl.DataFrame) -> list[LedgerLine]:
    out = []
    for row in frame.select(list(LEDGER_SCHEMA)).iter_rows(named=True):
        row["open_cases"] = tuple(row["open_cases"] or ())
        for day in ("first_seen", "last_action_on"):
            assert isinstance(row[day], dt.date)
        out.append(LedgerLine(**row))
    return out


# --- beside a snapshot ------------------------------------------------------------------------


def snapshot_tables(sup: Supervision) -> dict[str, pl.DataFrame]:
    """The files a snapshot stores beside cells.parquet (`write_snapshot(tables=...)`)."""
    return {
        HOTSPOTS_FILE: counts_frame(sup.counts),
        LEDGER_FILE: ledger_frame(sup.lines),
        SUMMARY_FILE: sup.figures,
    }


def snapshot_note(sup: Supervision) -> dict[str, object]:
    """meta.json's `supervision`: the rules the stored tables were made with."""
    return {
        "supervision": {
            "window_days": sup.rules.window_days,
            "deadline": sup.rules.deadline.isoformat(),
            "rules": str(sup.rules.source),
            "files": [HOTSPOTS_FILE, LEDGER_FILE, SUMMARY_FILE],
        }
    }


def compare_tables(stored: dict[str, pl.DataFrame | None], sup: Supervision) -> list[str]:
    """What differs between a snapshot's stored supervision tables and a rebuild's, one line
    per file (empty: equal row for row). A file the snapshot lacks is not compared."""
    out = []
    for name, rebuilt in snapshot_tables(sup).items():
        kept = stored.get(name)
        if kept is None:
            continue
        keys = list(rebuilt.columns)
        if list(kept.columns) != keys:
            out.append(f"{name}: columns {kept.columns} in the snapshot, {keys} rebuilt")
            continue
        only_kept = kept.join(rebuilt, on=keys, how="anti", nulls_equal=True)
        only_new = rebuilt.join(kept, on=keys, how="anti", nulls_equal=True)
        if only_kept.height or only_new.height or kept.height != rebuilt.height:
            first = (only_kept.head(1).to_dicts() or only_new.head(1).to_dicts() or [{}])[0]
            out.append(
                f"{name}: {only_kept.height} row(s) only in the snapshot, {only_new.height} "
                f"only in the rebuild ({kept.height} vs {rebuilt.height} rows); first: {first}"
            )
    return out
