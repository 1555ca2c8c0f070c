"""The fold driver both warehouse paths share: events in log order -> Ledger -> figures.

Log order is (topic, partition, offset): each partition in offset order, the
partitions one after the other, topics by name. The Ledger's result does not
depend on how partitions interleave except where the same event_id reaches two
partitions with different content (the first one read wins; the other is a
conflict) or two corrections of one event sit in different partitions. Events
are keyed by unit, so a unit's events and its corrections share a partition and
keep their order; the Kafka replay and the archive batch both read in exactly
this order, so they agree even in those corner cases.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from contracts.cutoff import Cutoff
from contracts.errors import ValidationError
from contracts.events import Event, check_key, parse_event
from contracts.fold import Figures, tally
from contracts.ledger import Ledger, Outcome, scoped
from contracts.registry import Registry

__all__ = ["LogRecord", "Rebuild", "EventInfo"]


class LogRecord(NamedTuple):
    """One record of a source topic, as read from Kafka or from the archive."""

    topic: str
    partition: int
    offset: int
    value: bytes | str
    #: The record's key, when `keyed` (read from Kafka): checked against the event's unit
    #: (`contracts.events.check_key`). Records read back from the archive were checked
    #: when they were archived.
    key: bytes | None = None
    keyed: bool = False


class EventInfo(NamedTuple):
    """Where an event sits in the log and what it says about others (for diff)."""

    event_id: str
    topic: str
    partition: int
    offset: int
    type: str
    unit: str
    occurred_at: str
    recorded_at: str | None
    supersedes: str | None
    retracts: str | None
    reason: str | None
    status: str


@dataclass
class Rebuild:
    """Push log records through one Ledger; read the figures at any cutoff.

    >>> r = Rebuild(Registry.load())
    >>> r.feed(read_archive(root, upto))  # doctest: +SKIP  (records in log order)
    >>> own = r.own_figures(parse_cutoff("2024-12-31"))  # doctest: +SKIP
    """

    registry: Registry
    keep_info: bool = False
    ledger: Ledger = field(default_factory=Ledger)
    events: int = 0  # valid records read (duplicates included)
    invalid: int = 0  # records that fail validation: the dead letters' business
    outcomes: Counter[str] = field(default_factory=Counter)
    #: Ledger key (`contracts.ledger.scoped`) -> where the event was read (`keep_info`).
    info: dict[str, EventInfo] = field(default_factory=dict)

    def feed(self, records: Iterable[LogRecord]) -> None:
        for record in records:
            self.add(record)

    def add(self, record: LogRecord) -> Outcome | None:
        try:
            event = parse_event(record.value, self.registry)
            if record.keyed:
                check_key(event, record.key)
        except ValidationError:
            self.invalid += 1
            return None
        self.events += 1
        outcome = self.ledger.apply(event)
        self.outcomes[outcome.status] += 1
        key = scoped(event.unit, event.source, event.event_id)
        if self.keep_info and key not in self.info:
            self.info[key] = _info(event, record, outcome.status)
        return outcome

    def apply_event(self, event: Event) -> Outcome:
        """Fold an already parsed event (the live path's hook)."""
        self.events += 1
        outcome = self.ledger.apply(event)
        self.outcomes[outcome.status] += 1
        return outcome

    def own_figures(self, cutoff: Cutoff) -> Figures:
        """Each unit's own figures at `cutoff` (SPEC 4: event time in the window, <= cutoff)."""
        effective = self.ledger.effective()
        return tally(
            itertools.chain.from_iterable(effective.values()),
            since_ms=cutoff.since_ms,
            cutoff_ms=cutoff.cutoff_ms,
        )


def _info(event: Event, record: LogRecord, status: str) -> EventInfo:
    payload = event.payload
    retracts = getattr(payload, "retracts", None)
    reason = getattr(payload, "reason", None) if retracts is not None else None
    return EventInfo(
        event.event_id,
        record.topic,
        record.partition,
        record.offset,
        event.type,
        event.unit,
        event.occurred_at.isoformat(),
        event.recorded_at.isoformat() if event.recorded_at else None,
        event.supersedes,
        retracts,
        reason,
        status,
    )


def tree_of(registry: Registry) -> Mapping[str, str | None]:
    """unit -> parent, the shape `contracts.fold.rollup` takes."""
    return {u.code: u.parent for u in registry}
