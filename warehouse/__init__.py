"""Event archive, snapshots, replay, diff and report rendering (the batch and audit path).

Modules, in the order data flows through them:

- `archive`: `Archiver` (source topics -> Parquet, offsets committed after the files are
  durable), `read_archive` (archived events in log order), `archive_records`.
- `kafka_log`: `read_log` (the source topics in log order up to an offset vector), `log_end`.
- `rebuild`: `Rebuild`, the one fold driver both paths use (Ledger -> contributions -> tally).
- `batch`: `batch_rebuild`, the archive batch vectorised (only events a resend, correction or
  retraction touches go through the Ledger; polars `tally_frame`).
- `replay`: `rebuild_from_kafka`, `rebuild_from_archive` (the batch recompute).
- `cells_table`: `cells_frame(own, registry)`: every unit x own|rollup x every cell.
- `snapshot`: `write_snapshot` (atomic), `resolve_snapshot`, `list_snapshots`, `compare`.
  The live path (streams/) cuts a snapshot with
  `write_snapshot(root, cutoff, cells_frame(own, registry), offsets, source="live", ...)`.
- `diff`: `attribute` (the events behind each changed cell).
- `report`: the form 附件2 as xlsx, CSV and a terminal table.
- `offsets`, `cutoff`, `errors`: offset vectors, cutoffs, `WarehouseError` and its subclasses.

Submodules are imported on use (`from warehouse.snapshot import write_snapshot`), so
importing one does not load openpyxl, polars or the Kafka client needlessly.
"""

__all__ = [
    "archive",
    "kafka_log",
    "rebuild",
    "batch",
    "replay",
    "cells_table",
    "snapshot",
    "diff",
    "report",
    "offsets",
    "cutoff",
    "errors",
]
