"""Which events count: idempotency by event_id, conflicts, corrections and retractions.

Both paths (streams and batch) push events through a `Ledger` in log order and
fold only what it reports as added or removed. Its state is a mapping from
event_id to a JSON-friendly entry, so a Faust table can hold it as well as a dict.

Rules (SPEC 5.1, 5.3):
- the same event_id with the same content is a no-op (`duplicate`);
- the same event_id with different content is a `conflict` (dead-lettered),
  unless the event says `supersedes` its own id: then it replaces itself;
- `supersedes: X` removes X's contributions and adds its own; a correction
  that arrives before X marks X so that X never counts when it comes;
- `event.retracted` removes the target's contributions (or pre-empts it);
- a second correction of the same X corrects the current correction (the chain
  is followed to its active head), so corrections never double count;
- a retraction of a retraction does not reinstate anything.

Ids are scoped by reporting unit and source system (SPEC 5.1 "Scope of ids", made strict):
the Ledger keys an event by `scoped(unit, source, event_id)`, and a `supersedes`/`retracts`
target is an event of the same unit and source. The same event_id under two units (or
from two source systems of one unit) is two events; a correction naming another unit's
event names an event of its own that does not exist (yet), so it pre-empts nothing that
counts. One unit's events of one source sit in one topic-partition, in order (the topics
are per source and keyed by unit), and nothing orders two topics: so every decision the
Ledger takes reads events of one totally ordered log only, and the streams (a partition
at a time, topics interleaved as they arrive) and the batch (everything, sorted) give one
answer by construction.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from contracts.errors import ValidationError
from contracts.events import Event
from contracts.fold import Contribution, contributions
from contracts.payloads import EventRetracted

ACTIVE, SUPERSEDED, RETRACTED = "active", "superseded", "retracted"
_MAX_CHAIN = 1000

#: Dead-letter reason of an event_id already received with different content.
CONFLICT = "event_id.conflict"

Entry = dict[str, Any]  # {"h": hash | None, "s": status, "by": event_id | None, "c": [[...]]}


def conflict_error(event_id: str, detail: str | None = None) -> ValidationError:
    """The dead letter's error for a conflicting resend, wherever it is found.

    File ingest refuses a line whose event_id it saw earlier in its input with other content
    and no `supersedes` at all (the Ledger would refuse it too); the Ledger is the authority
    and refuses, in the stream and the replays, any other content without
    `"supersedes": <its own id>` (`Ledger.apply_record`): `detail` then says what it saw.
    """
    return ValidationError(
        "event_id",
        event_id,
        detail
        or (
            "was already seen earlier in this input with different content, and this "
            "record has no supersedes"
        ),
        reason=CONFLICT,
        hint=(
            f'to correct the earlier event send a new event_id with "supersedes": '
            f'"{event_id}"; if this is a different event, give it its own event_id'
        ),
    )


def cross_unit_error(
    event_id: str, unit: str, target: str, other_units: list[str], *, retraction: bool
) -> ValidationError:
    """The dead letter's error for a correction or retraction naming another unit's event:
    ids are scoped by unit (SPEC 5.1), so it would name an event of its own unit that does
    not exist, and the other unit's event would stay counted."""
    field, reason = (
        ("payload.retracts", "retracts.other_unit")
        if retraction
        else ("supersedes", "supersedes.other_unit")
    )
    return ValidationError(
        field,
        target,
        f"names an event of {', '.join(other_units)}, but {event_id} is of {unit}; a "
        "correction or retraction names an event of its own unit and source system",
        reason=reason,
        hint=(
            "to move an event to another unit, retract it under its own unit and send a new "
            "event (a new event_id) under the right one"
        ),
    )


class Status(StrEnum):
    """What the Ledger decided for one event (a str: counters and JSON see the text)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    INACTIVE = "inactive"  # pre-empted by an earlier correction or retraction


class Outcome(NamedTuple):
    status: Status
    added: tuple[Contribution, ...] = ()
    removed: tuple[Contribution, ...] = ()
    detail: str = ""


def _pack(items: tuple[Contribution, ...]) -> list[list[Any]]:
    return [list(c) for c in items]


def _unpack(rows: list[list[Any]]) -> tuple[Contribution, ...]:
    return tuple(Contribution(*row) for row in rows)


def _fold(
    items: Sequence[Contribution] | Callable[[], Sequence[Contribution]],
) -> tuple[Contribution, ...]:
    return tuple(items() if callable(items) else items)


def scoped(unit: str, source: str, event_id: str) -> str:
    """The Ledger's key of `event_id` of `unit` from `source` (neither holds a `|`).

    >>> scoped("320412", "inspection", "insp-1")
    '320412|inspection|insp-1'
    """
    return f"{unit}|{source}|{event_id}"


def unscoped(key: str) -> tuple[str, str, str]:
    """(unit, source, event_id) of a Ledger key made by `scoped`."""
    unit, source, event_id = key.split("|", 2)
    return unit, source, event_id


class Ledger:
    """Decides each event's effect; `entries` is any mutable mapping (dict, Faust table)."""

    def __init__(self, entries: MutableMapping[str, Entry] | None = None) -> None:
        self.entries: MutableMapping[str, Entry] = {} if entries is None else entries

    def apply(self, event: Event) -> Outcome:
        """Resolve one parsed event (the streams and the Kafka replay), scoped by its unit
        and source."""
        unit, source = event.unit, event.source
        retracts = event.payload.retracts if isinstance(event.payload, EventRetracted) else None
        return self.apply_record(
            scoped(unit, source, event.event_id),
            event.content_hash,
            supersedes=None if event.supersedes is None else scoped(unit, source, event.supersedes),
            retracts=None if retracts is None else scoped(unit, source, retracts),
            contributions=lambda: contributions(event),
        )

    def apply_record(
        self,
        event_id: str,
        content_hash: str,
        *,
        supersedes: str | None,
        retracts: str | None,
        contributions: Sequence[Contribution] | Callable[[], Sequence[Contribution]],
    ) -> Outcome:
        """Resolve one event given only what the rules read: the one implementation of them.

        `retracts` is the target of an `event.retracted` (None for every other type);
        `contributions` is the event's fold (or a function computing it, called only if the
        event is added). The batch recompute feeds archived rows here without re-parsing:

        >>> Ledger().apply_record("e1", "ab12...", supersedes=None, retracts=None,
        ...                       contributions=()).status
        'applied'
        """
        eid, digest = event_id, content_hash
        known = self.entries.get(eid)
        if known is not None and known.get("h") is not None:
            if known["h"] == digest:
                return Outcome(Status.DUPLICATE)
            if supersedes != eid:
                return Outcome(
                    Status.CONFLICT,
                    detail=(
                        f"was already received with different content "
                        f"(sha256 {known['h'][:12]}..., now {digest[:12]}...); to correct it "
                        'send a new event_id with "supersedes" naming this one'
                    ),
                )
            return self._replace_self(eid, known, digest, contributions)

        removed: tuple[Contribution, ...] = ()
        target = supersedes if supersedes not in (None, eid) else None
        kind = SUPERSEDED
        if retracts is not None:
            target, kind = retracts, RETRACTED
        if target is not None:
            removed = self._deactivate(target, kind, eid)

        if known is not None:  # pre-empted: a correction or retraction arrived first
            known["h"] = digest
            self.entries[eid] = known
            return Outcome(
                Status.INACTIVE,
                removed=removed,
                detail=f"{known['s']} by {known['by']} before it arrived",
            )
        added = _fold(contributions)
        self.entries[eid] = {"h": digest, "s": ACTIVE, "by": None, "c": _pack(added)}
        return Outcome(Status.APPLIED, added=added, removed=removed)

    def _replace_self(
        self,
        eid: str,
        known: Entry,
        digest: str,
        fold: Sequence[Contribution] | Callable[[], Sequence[Contribution]],
    ) -> Outcome:
        removed = _unpack(known["c"]) if known["s"] == ACTIVE else ()
        added = _fold(fold) if known["s"] == ACTIVE else ()
        self.entries[eid] = {**known, "h": digest, "c": _pack(added)}
        return Outcome(Status.APPLIED, added=added, removed=removed)

    def _deactivate(self, target: str, kind: str, by: str) -> tuple[Contribution, ...]:
        """Remove `target` (or the active head of its correction chain) from the figures."""
        for _ in range(_MAX_CHAIN):
            entry = self.entries.get(target)
            if entry is None:
                self.entries[target] = {"h": None, "s": kind, "by": by, "c": []}
                return ()
            if entry["s"] == ACTIVE:
                removed = _unpack(entry["c"])
                self.entries[target] = {**entry, "s": kind, "by": by, "c": []}
                return removed
            if kind == SUPERSEDED and entry["s"] == SUPERSEDED and entry["by"] not in (None, by):
                target = entry["by"]  # correct the current correction instead
                continue
            return ()  # already retracted (or superseded by this very event)
        return ()

    def effective(self) -> dict[str, tuple[Contribution, ...]]:
        """Ledger key (`scoped`) -> contributions of every event that currently counts."""
        return {
            eid: _unpack(e["c"]) for eid, e in self.entries.items() if e["s"] == ACTIVE and e["c"]
        }
