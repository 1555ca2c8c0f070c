"""The Arrow shapes of archived events and of fold rows, with no polars or Kafka import: the
Kafka replay's reader processes build their rows from these and start faster without them."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["CONTRIBUTION_TYPE", "ARCHIVE_SCHEMA", "ROW_COLUMNS"]

#: One contribution of the event (contracts.fold.Contribution without its event_id, which
#: is the row's).
CONTRIBUTION_TYPE = pa.struct(
    [
        ("cell", pa.string()),
        ("unit", pa.string()),
        ("key", pa.string()),
        ("at", pa.int64()),
        ("value", pa.int64()),
    ]
)
_ARCHIVE_FIELDS: list[tuple[str, pa.DataType]] = [
    ("topic", pa.string()),
    ("partition", pa.int32()),
    ("offset", pa.int64()),
    ("event_id", pa.string()),
    ("source", pa.string()),
    ("type", pa.string()),
    ("unit", pa.string()),
    ("occurred_at", pa.timestamp("ms", tz="+08:00")),
    ("recorded_at", pa.timestamp("ms", tz="+08:00")),
    ("supersedes", pa.string()),
    ("content_hash", pa.string()),
    ("raw", pa.string()),
    # Folded at archive time (the event was validated then), so the batch need not re-parse
    # `raw`: the target of an event.retracted, contracts.fold.contributions(event), and its
    # case (contracts.fold.case_link: the case_id and the event's role in the case).
    ("retracts", pa.string()),
    ("contributions", pa.list_(CONTRIBUTION_TYPE)),
    ("case_id", pa.string()),
    ("case_role", pa.string()),
]
ARCHIVE_SCHEMA = pa.schema(_ARCHIVE_FIELDS)
#: The columns `warehouse.batch.fold_rows` reads: the archive's, or the Kafka readers'.
ROW_COLUMNS = [
    "topic",
    "partition",
    "offset",
    "event_id",
    "unit",
    "source",
    "content_hash",
    "supersedes",
    "retracts",
    "contributions",
    "case_id",
    "case_role",
]
