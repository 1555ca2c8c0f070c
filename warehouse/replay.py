"""Rebuilding figures from the log: from Kafka (replay) or from the archive (batch).

Both paths make the same fold rows (event_id, content hash, supersedes, retracts,
contributions, log position) and fold them with `warehouse.batch.fold_rows`: only the
rows a resend, correction or retraction touches go through the Ledger, in log order;
the rest are tallied with polars. The archive holds the rows (folded when archived);
the Kafka replay makes them from the records, with one reader process per core
(`warehouse.kafka_rows`). Tests prove both equal pushing every record through the
Ledger one by one (`Rebuild`, still used by diff, which wants every event's entry).
The live path (streams/) joins through `arrears snapshot --from live`, which writes the
workers' figures and offset vector with `warehouse.snapshot.write_snapshot`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from contracts.cutoff import Cutoff
from contracts.registry import Registry
from warehouse.archive_files import archive_end, read_archive
from warehouse.batch import BatchRebuild, batch_rebuild, fold_rows
from warehouse.cells_table import cells_frame
from warehouse.kafka_log import check_within, log_end, read_log
from warehouse.kafka_rows import ROW_SCHEMA, read_rows
from warehouse.offsets import Offsets
from warehouse.rebuild import Rebuild

__all__ = ["Rebuilt", "rebuild_from_kafka", "rebuild_from_archive", "FROM_CHOICES"]

FROM_CHOICES = ("kafka", "archive")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Rebuilt:
    """A rebuild's result: the ledger state, the offsets it reflects, and where from."""

    rebuild: Rebuild | BatchRebuild
    offsets: Offsets
    source: str

    def cells(self, cutoff: Cutoff) -> pl.DataFrame:
        return cells_frame(self.rebuild.own_figures(cutoff), self.rebuild.registry)


def rebuild_from_kafka(
    bootstrap: str,
    topics: list[str],
    upto: Offsets | None,
    registry: Registry,
    *,
    keep_info: bool = False,
    progress: Progress | None = None,
    vectorised: bool = True,
    workdir: Path | None = None,
    readers: int | None = None,
) -> Rebuilt:
    """Replay the source topics up to `upto` (exclusive ends; None = the end now).

    Vectorised unless `keep_info` or `vectorised=False`: readers on every core turn the
    records into fold rows (`warehouse.kafka_rows`, scratch files under `workdir`, by
    default the system's temp dir) and `warehouse.batch.fold_rows` folds them, as the
    archive batch does. Otherwise one reader feeds `Rebuild` record by record.
    """
    end = log_end(bootstrap, topics)
    if upto is None:
        upto = end
    else:
        check_within(upto, end)
        upto = {t: {p: upto.get(t, {}).get(p, 0) for p in end[t]} for t in topics}
    if vectorised and not keep_info:
        scratch = tempfile.TemporaryDirectory(prefix="arrears-replay-", dir=workdir)
        try:
            files = read_rows(
                bootstrap, upto, registry, Path(scratch.name), readers=readers, progress=progress
            )
            rows = (
                pl.scan_ipc(files.paths)
                if files.paths
                else pl.LazyFrame(schema=pl.Schema(ROW_SCHEMA))
            )
            result = fold_rows(rows, registry, origin="the Kafka replay's rows", raws=files.raws)
        except BaseException:
            scratch.cleanup()
            raise
        result.invalid, result.scratch = files.invalid, scratch
        return Rebuilt(result, upto, "kafka")
    rebuild = Rebuild(registry, keep_info=keep_info)
    rebuild.feed(read_log(bootstrap, upto, progress=progress))
    return Rebuilt(rebuild, upto, "kafka")


def rebuild_from_archive(
    root: Path,
    topics: list[str],
    upto: Offsets | None,
    registry: Registry,
    *,
    keep_info: bool = False,
    progress: Progress | None = None,
    vectorised: bool = True,
) -> Rebuilt:
    """Batch recompute from the archive up to `upto` (None = everything archived).

    Vectorised (`warehouse.batch`) unless `keep_info` (diff wants every event's ledger
    entry and log position) or `vectorised=False` (the record-by-record reference path).
    """
    if upto is None:
        have = archive_end(root)
        upto = {t: dict(have.get(t, {})) for t in topics}
    else:
        upto = {t: dict(upto.get(t, {})) for t in topics}
    if vectorised and not keep_info:
        return Rebuilt(
            batch_rebuild(root, upto, topics, registry, progress=progress), upto, "archive"
        )
    rebuild = Rebuild(registry, keep_info=keep_info)
    records = read_archive(root, upto, topics)
    if progress is None:
        rebuild.feed(records)
    else:
        for i, record in enumerate(records, 1):
            rebuild.add(record)
            if i % 10_000 == 0:
                progress(10_000)
    return Rebuilt(rebuild, upto, "archive")
