"""Rebuilding figures from the log: from Kafka (replay) or from the archive (batch).

Both paths push the same records, in the same log order, through the same
`Rebuild` (Ledger -> contributions -> tally -> rollup), so their answers can only
differ if their inputs do. The archive path does so vectorised by default
(`warehouse.batch`: only events that a resend, correction or retraction touches go
through the Ledger one by one; tests prove it equals the record-by-record path). The live path (streams/) joins by handing its own
figures and offset vector to `warehouse.snapshot.write_snapshot` via
`cells_frame(own, registry)` with `source="live"`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from contracts.registry import Registry
from warehouse.archive import archive_end, read_archive
from warehouse.batch import BatchRebuild, batch_rebuild
from warehouse.cells_table import cells_frame
from warehouse.cutoff import Cutoff
from warehouse.kafka_log import check_within, log_end, read_log
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


def rebuild_from_kafka(bootstrap: str, topics: list[str], upto: Offsets | None,
                       registry: Registry, *, keep_info: bool = False,
                       progress: Progress | None = None) -> Rebuilt:
    """Replay the source topics up to `upto` (exclusive ends; None = the end now)."""
    end = log_end(bootstrap, topics)
    if upto is None:
        upto = end
    else:
        check_within(upto, end)
        upto = {t: {p: upto.get(t, {}).get(p, 0) for p in end[t]} for t in topics}
    rebuild = Rebuild(registry, keep_info=keep_info)
    rebuild.feed(read_log(bootstrap, upto, progress=progress))
    return Rebuilt(rebuild, upto, "kafka")


def rebuild_from_archive(root: Path, topics: list[str], upto: Offsets | None,
                         registry: Registry, *, keep_info: bool = False,
                         progress: Progress | None = None, vectorised: bool = True) -> Rebuilt:
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
        return Rebuilt(batch_rebuild(root, upto, topics, registry, progress=progress), upto,
                       "archive")
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
