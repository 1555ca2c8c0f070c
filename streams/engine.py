"""One partition's state machine: ledger + tallies, applied in chunks through a redo journal.

Everything the streams keep lives in ONE changelogged table, so that one
changelog partition is a single ordered log of all writes for a source
partition (the four source topics are co-partitioned by unit):

    J|<p>                          journal: {"a": {topic: last applied offset}, "n": events,
                                             "w": {key: value}}
    L|<p>|<event_id>               ledger entry (contracts.ledger)
    C|<p>|<case>                   a case's follow-ups and verified events (contracts.ledger)
    A|<p>|<unit>|<cell>            day -> delta of the cell (streams.tallies)
    K|<p>|<unit>|<cell>|<key>      per-key state of a DISTINCT or LATEST cell

Exactly-once effect, under at-least-once delivery:

1. Events are applied in *chunks*. A chunk computes all its writes in an
   overlay (nothing touches the table), then writes the journal record
   `J|<p>` -- the applied offsets *and* the final value of every key it
   changes -- and only then the keys themselves. The journal is one record,
   so it is atomic.
2. Kafka keeps one partition in order, so after a crash the recovered table
   is the state after some prefix of the writes. At most the last journaled
   chunk is partly applied; its values are absolute, so writing them again
   (redo) completes it and is harmless if it was complete. Redo runs before a
   partition's first chunk after every (re)assignment, and readers overlay
   the journal, so a partial chunk is never seen.
3. An event whose offset is <= the journal's applied offset for its topic is
   skipped: the at-least-once replay after a crash or a rebalance has no
   effect. This also covers the ledger's two-key updates (the event and its
   correction target), which a per-key check could not make atomic.
4. An event whose offset is beyond the applied offset + 1 is a *gap*: the
   events in between were never applied (a consumer position that came from
   somewhere other than the journal, such as Faust's own committed offset,
   which it advances over records it skipped unprocessed during a rebalance).
   Applying it would skip them for good, since the journal then moves past
   them, so it is refused; the caller moves the consumer back to the first
   unapplied offset. Only when the same gap is met again from there (Kafka
   has no record in between: retention, transaction markers) is it crossed.

The journal also says what the partition's state reflects, for a reader that
must record it (`arrears snapshot --from live`): `next_offsets` (the applied
offsets + 1, the vector a replay rebuilds it from) and `applied_events`
(`"n"`, the valid records applied so far, duplicates and conflicts included:
what `warehouse.rebuild.Rebuild.events` counts; unknown for a journal written
before it was kept).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, NamedTuple

from contracts.errors import ValidationError
from contracts.events import check_key, parse_event
from contracts.ledger import CONFLICT, Ledger, conflict_error
from contracts.registry import Registry
from streams.tallies import Window, fold_into

__all__ = [
    "CONFLICT",
    "Verdict",
    "Chunk",
    "Engine",
    "journal_key",
    "with_journal",
    "next_offsets",
    "applied_events",
]

Writer = Callable[[str, Any], None]  # (key, value) -> the table (and its changelog)


def journal_key(partition: int) -> str:
    return f"J|{partition}"


def next_offsets(table: Mapping[str, Any], partition: int, topics: Iterable[str]) -> dict[str, int]:
    """The first offset of each topic the partition's state does not reflect (0: none applied).

    Where a worker resumes after an assignment, and the offset vector its figures reflect.
    """
    applied = (table.get(journal_key(partition)) or {}).get("a", {})
    return {topic: int(applied.get(topic, -1)) + 1 for topic in topics}


def applied_events(table: Mapping[str, Any], partition: int) -> int | None:
    """Valid records the partition's state reflects; None for a journal from before the count."""
    journal = table.get(journal_key(partition)) or {}
    return _events(journal)


def _events(journal: Mapping[str, Any]) -> int | None:
    if "n" in journal:
        return int(journal["n"])
    return None if journal.get("a") else 0  # applied offsets but no count: unknown


#: What a table value holds besides dicts and lists (its JSON's scalars): not copied.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _clone(value: Any) -> Any:
    """A deep copy of a JSON-like value. A dict or list of scalars only (a cell's day
    deltas, most of what a chunk reads) is copied in one step: the check runs in C; a
    list of such lists, one step a row."""
    if isinstance(value, dict):
        if _SCALARS.issuperset(map(type, value.values())):
            return value.copy()
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        if _SCALARS.issuperset(map(type, value)):
            return value.copy()
        # rows of scalars (a LATEST cell's candidates, a ledger entry's contributions):
        # copied here, not by a call each
        return [
            v.copy() if type(v) is list and _SCALARS.issuperset(map(type, v)) else _clone(v)
            for v in value
        ]
    return value


def _marker(journal: Mapping[str, Any]) -> str:
    return json.dumps(journal.get("a", {}), sort_keys=True)


_ABSENT = object()


class Verdict(NamedTuple):
    """What one input record did: skipped | gap | applied | duplicate | inactive | rejected.

    `gap`: not applied, and neither may any later record of its topic and partition
    until the consumer has been moved back to the first unapplied offset.
    """

    status: str
    error: ValidationError | None = None


class Chunk(MutableMapping[str, Any]):
    """Consecutive events of one partition: reads see the table plus this chunk's writes.

    Reads return private copies, so nothing in the table changes until `finish`.
    """

    def __init__(self, table: Mapping[str, Any], partition: int) -> None:
        self.table = table
        self.partition = partition
        journal = table.get(journal_key(partition)) or {}
        self.applied: dict[str, int] = dict(journal.get("a", {}))
        #: Valid records applied to the partition through this chunk (None: unknown, see
        #: `applied_events`); journaled with the offsets, so it counts each record once.
        self.events = _events(journal)
        self.advanced = False
        self._cache: dict[str, Any] = {}
        self._dirty: dict[str, None] = {}  # insertion-ordered set

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        # Most reads are of keys not there yet (a new event's ledger entry): no KeyError
        # is raised and caught on the way, which cost the workers a tenth of their time.
        cache = self._cache
        if key in cache:
            return cache[key]
        value = self.table.get(key)
        if value is None:
            return default
        copy = _clone(value)
        cache[key] = copy  # later reads in this chunk see (and may change) the same copy
        return copy

    def __setitem__(self, key: str, value: Any) -> None:
        self._cache[key] = value
        self._dirty[key] = None

    def __delitem__(self, key: str) -> None:
        raise TypeError("the streams never delete keys (a changelog tombstone is not journaled)")

    def __iter__(self) -> Iterator[str]:
        return iter(self._dirty)

    def __len__(self) -> int:
        return len(self._dirty)

    @property
    def writes(self) -> dict[str, Any]:
        return {key: self._cache[key] for key in self._dirty}

    def finish(self, write: Writer) -> dict[str, Any] | None:
        """Write the journal, then every changed key; returns the journal (None: nothing to do)."""
        if not self.advanced:
            return None
        writes = self.writes
        journal: dict[str, Any] = {"a": dict(self.applied), "w": writes}
        if self.events is not None:
            journal["n"] = self.events
        write(journal_key(self.partition), journal)
        for key, value in writes.items():
            write(key, value)
        return journal


class _LedgerView(MutableMapping[str, Any]):
    """The chunk's ledger entries under `L|<p>|` (its cases under `C|<p>|`), as the mapping
    `contracts.ledger` wants. A case and its follow-ups are events of one unit and source
    (ids are scoped so), hence of one partition: the partition's state holds the case."""

    def __init__(self, chunk: Chunk, kind: str = "L") -> None:
        self.chunk = chunk
        self.prefix = f"{kind}|{chunk.partition}|"

    def __getitem__(self, event_id: str) -> Any:
        return self.chunk[self.prefix + event_id]

    def get(self, event_id: str, default: Any = None) -> Any:
        return self.chunk.get(self.prefix + event_id, default)

    def __setitem__(self, event_id: str, entry: Any) -> None:
        self.chunk[self.prefix + event_id] = entry

    def __delitem__(self, event_id: str) -> None:
        raise TypeError("ledger entries are never deleted")

    def __iter__(self) -> Iterator[str]:
        raise TypeError("the streams ledger is not iterable (it is spread over a table)")

    def __len__(self) -> int:
        raise TypeError("the streams ledger has no length")


class Engine:
    """Applies input records to chunks; the only place the streams call the ledger and fold."""

    def __init__(self, registry: Registry, window: Window) -> None:
        self.registry = registry
        self.window = window
        #: partition -> marker of the journal known to be fully applied in this process.
        self.clean: dict[int, str] = {}
        #: (partition, topic) -> (first unapplied offset, offset met instead) of the last gap.
        self.gaps: dict[tuple[int, str], tuple[int, int]] = {}
        self._last: tuple[Chunk, Ledger] | None = None  # the last chunk and its Ledger

    def forget(self) -> None:
        """After a rebalance: redo every partition's journal before its next chunk."""
        self.clean.clear()
        self.gaps.clear()

    @staticmethod
    def next_offset(chunk: Chunk, topic: str) -> int:
        """The first offset of `topic` in the chunk's partition that is not applied yet."""
        return chunk.applied.get(topic, -1) + 1

    def redo(self, table: Mapping[str, Any], partition: int, write: Writer) -> bool:
        """Complete the partition's last journaled chunk if this process has not; True if redone."""
        journal = table.get(journal_key(partition))
        if not journal:
            return False
        marker = _marker(journal)
        if self.clean.get(partition) == marker:
            return False
        for key, value in journal["w"].items():
            write(key, value)
        self.clean[partition] = marker
        return True

    def finish(self, chunk: Chunk, write: Writer) -> None:
        journal = chunk.finish(write)
        if journal is not None:
            self.clean[chunk.partition] = _marker(journal)

    def _ledger(self, chunk: Chunk) -> Ledger:
        """The Ledger over `chunk`'s entries and cases, made once a chunk, not once an event.
        Kept here, not on the chunk: a chunk holding the views that hold it would be a
        reference cycle, its copies of the table's values left for the cyclic collector."""
        if self._last is None or self._last[0] is not chunk:
            self._last = (chunk, Ledger(_LedgerView(chunk), _LedgerView(chunk, "C")))
        return self._last[1]

    def handle(
        self, chunk: Chunk, topic: str, offset: int, raw: bytes | None, key: bytes | None
    ) -> Verdict:
        """Apply the record at (`topic`, chunk.partition, `offset`) to `chunk`, at most once;
        a record whose `key` is not its event's unit is rejected (`check_key`)."""
        expected = self.next_offset(chunk, topic)
        if offset < expected:
            return Verdict("skipped")
        if offset > expected:
            where = (chunk.partition, topic)
            if self.gaps.get(where) != (expected, offset):
                self.gaps[where] = (expected, offset)
                return Verdict("gap")
            # met again after the consumer was moved back: nothing in between exists
        self.gaps.pop((chunk.partition, topic), None)
        chunk.applied[topic] = offset
        chunk.advanced = True
        try:
            event = parse_event(raw if raw is not None else b"", self.registry)
            check_key(event, key)
        except ValidationError as err:
            return Verdict("rejected", err)
        if chunk.events is not None:
            chunk.events += 1
        outcome = self._ledger(chunk).apply(event)
        if outcome.status == "conflict":
            return Verdict("rejected", conflict_error(event.event_id, outcome.detail))
        for c in outcome.removed:
            fold_into(chunk, chunk.partition, c, -1, self.window)
        for c in outcome.added:
            fold_into(chunk, chunk.partition, c, 1, self.window)
        return Verdict(outcome.status)


def with_journal(
    table: Mapping[str, Any], partitions: set[int] | frozenset[int]
) -> Iterator[tuple[str, Any]]:
    """The table's entries as they are once every partition's last chunk is complete.

    A reader's view: the journal's values win over the table's (they are the newest).
    """
    overlay: dict[str, Any] = {}
    for p in partitions:
        journal = table.get(journal_key(p))
        if journal:
            overlay.update(journal["w"])
    for key, value in table.items():
        yield key, overlay.pop(key, value)
    yield from overlay.items()
