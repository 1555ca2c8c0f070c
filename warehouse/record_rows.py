"""Records of one topic-partition parsed, validated with their key and folded into column
buffers, then Arrow: the fold rows of the Kafka replay's readers (`warehouse.kafka_rows`)
and the archive rows of the archiver's (`warehouse.archive_reader`), by one code path."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from contracts.clock import CST
from contracts.errors import ValidationError
from contracts.events import Event, check_key, parse_event
from contracts.fold import Contribution, case_link, contributions
from contracts.payloads import EventRetracted
from contracts.registry import Registry
from warehouse.schema import ARCHIVE_SCHEMA, CONTRIBUTION_TYPE, ROW_COLUMNS

__all__ = ["ROW_SCHEMA", "RAW_SCHEMA", "RecordRows", "archive_date", "valid_event"]

#: The fold rows as the replay's readers write them: the archive's columns the fold reads
#: (warehouse.schema.ROW_COLUMNS), then `raw_row`. `content_hash` is left null:
#: `warehouse.batch.fold_rows` hashes only the rows whose event_id repeats (the only hashes
#: the Ledger compares), from the record itself, kept in the reader's raw file (RAW_SCHEMA)
#: at this row number: reader << 32 | row.
ROW_SCHEMA = pa.schema(
    [ARCHIVE_SCHEMA.field(c) for c in ROW_COLUMNS] + [pa.field("raw_row", pa.int64())]
)
#: The records, one a row, in the order of the reader's row file.
RAW_SCHEMA = pa.schema([("raw", pa.binary())])


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


def archive_date(occurred_at: dt.datetime) -> str:
    """The archive directory an event goes to: its day in +08:00 (`date=YYYY-MM-DD`)."""
    return occurred_at.astimezone(CST).date().isoformat()


def _ms(moment: dt.datetime) -> int:
    """Exact epoch milliseconds, truncated as Arrow stores an aware datetime at "ms"."""
    return (moment - _EPOCH) // _MS


def valid_event(value: bytes, key: bytes | None, registry: Registry) -> Event | None:
    """The event of a record keyed `key`, or None if it is not a valid event."""
    try:
        event = parse_event(value, registry)
        check_key(event, key)
    except ValidationError:
        return None
    return event


class RecordRows:
    """Column buffers of one topic-partition's valid records. With `archive`, also what the
    archive keeps beyond the fold (type, times, content hash): `archive_table`."""

    def __init__(self, topic: str, partition: int, *, archive: bool = False) -> None:
        self.topic, self.partition, self.archive = topic, partition, archive
        # offset, event_id, unit, source, supersedes, retracts, case_id, case_role, raw: one
        # tuple a row
        self.rows: list[
            tuple[int, str, str, str, str | None, str | None, str | None, str | None, bytes]
        ] = []
        # type, occurred_at ms, recorded_at ms, content_hash: one tuple a row (`archive`)
        self.extra: list[tuple[str, int, int | None, str]] = []
        self.ends: list[int] = [0]  # contributions of row i: items[ends[i]:ends[i + 1]]
        self.items: list[Contribution] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, offset: int, value: bytes, key: bytes | None, registry: Registry) -> bool:
        """Parse, validate (with its key) and fold one record; False if it is not a valid event."""
        event = valid_event(value, key, registry)
        if event is None:
            return False
        self.append(offset, value, event)
        return True

    def append(self, offset: int, value: bytes, event: Event) -> None:
        """One valid event's row, from its record `value` at `offset`."""
        payload = event.payload
        case, role = case_link(event) or (None, None)
        self.rows.append(
            (
                offset,
                event.event_id,
                event.unit,
                event.source,
                event.supersedes,
                payload.retracts if isinstance(payload, EventRetracted) else None,
                case,
                role,
                value,
            )
        )
        if self.archive:
            recorded = event.recorded_at
            self.extra.append(
                (
                    event.type,
                    _ms(event.occurred_at),
                    None if recorded is None else _ms(recorded),
                    event.content_hash,
                )
            )
        self.items.extend(contributions(event))
        self.ends.append(len(self.items))

    def _contributions(self) -> pa.ListArray[Any]:
        cells, units, keys, ats, values, _ = (
            zip(*self.items, strict=True) if self.items else ((),) * 6
        )
        items = pa.StructArray.from_arrays(
            [
                pa.array(cells, pa.string()),
                pa.array(units, pa.string()),
                pa.array(keys, pa.string()),
                pa.array(ats, pa.int64()),
                pa.array(values, pa.int64()),
            ],
            fields=list(CONTRIBUTION_TYPE),
        )
        return pa.ListArray.from_arrays(
            pa.array(self.ends, pa.int32()), items, type=pa.list_(CONTRIBUTION_TYPE)
        )

    def _columns(self) -> tuple[tuple[object, ...], ...]:
        # Columns by transposing with zip: one C-level pass instead of five appends a row.
        return zip(*self.rows, strict=True) if self.rows else ((),) * 9  # type: ignore[return-value]

    def batch(self, first_row: int) -> tuple[pa.RecordBatch, pa.RecordBatch]:
        """The rows (ROW_SCHEMA, numbered from `first_row`) and their records (RAW_SCHEMA)."""
        n = len(self.rows)
        offsets, ids, units, sources, supersedes, retracts, cases, roles, raws = self._columns()
        return pa.record_batch(
            [
                pa.array([self.topic] * n, pa.string()),
                pa.array([self.partition] * n, pa.int32()),
                pa.array(offsets, pa.int64()),
                pa.array(ids, pa.string()),
                pa.array(units, pa.string()),
                pa.array(sources, pa.string()),
                pa.nulls(n, pa.string()),
                pa.array(supersedes, pa.string()),
                pa.array(retracts, pa.string()),
                self._contributions(),
                pa.array(cases, pa.string()),
                pa.array(roles, pa.string()),
                pa.array(range(first_row, first_row + n), pa.int64()),
            ],
            schema=ROW_SCHEMA,
        ), pa.record_batch([pa.array(raws, pa.binary())], schema=RAW_SCHEMA)

    def archive_table(self) -> pa.Table:
        """The rows as the archive holds them (ARCHIVE_SCHEMA), in the order added."""
        assert self.archive, "made without archive=True"
        n = len(self.rows)
        offsets, ids, units, sources, supersedes, retracts, cases, roles, raws = self._columns()
        types, occurred, recorded, hashes = (
            zip(*self.extra, strict=True) if self.extra else ((),) * 4
        )
        stamp = ARCHIVE_SCHEMA.field("occurred_at").type
        return pa.table(
            [
                pa.array([self.topic] * n, pa.string()),
                pa.array([self.partition] * n, pa.int32()),
                pa.array(offsets, pa.int64()),
                pa.array(ids, pa.string()),
                pa.array(sources, pa.string()),
                pa.array(types, pa.string()),
                pa.array(units, pa.string()),
                pa.array(occurred, pa.int64()).cast(stamp),
                pa.array(recorded, pa.int64()).cast(stamp),
                pa.array(supersedes, pa.string()),
                pa.array(hashes, pa.string()),
                pa.array(raws, pa.binary()).cast(pa.string()),
                pa.array(retracts, pa.string()),
                self._contributions(),
                pa.array(cases, pa.string()),
                pa.array(roles, pa.string()),
            ],
            schema=ARCHIVE_SCHEMA,
        )
