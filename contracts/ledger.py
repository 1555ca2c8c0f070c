"""Which events count: idempotency by event_id, conflicts, corrections and retractions.

Size: the case rule (a follow-up's row is its case's) moves contributions the same way a
correction removes them and reads the same entries, so it stays beside those rules rather
than in a module that would reach into this one's entries.

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
- a retraction of a retraction does not reinstate anything;
- a case's follow-ups (order, transfer, filing, resolution, by `case_id`) count in the row
  of the case (SPEC 4.1): while an active `arrears.verified` of the case names a
  construction project they count in 建筑业, else in their own employer's row. The Ledger
  keeps each case's follow-ups beside the events (`cases`), so a follow-up that arrives
  before its case is moved when the case arrives, and moved back when the case is
  corrected or retracted, as a correction pre-empts its target.

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

from collections import Counter
from collections.abc import Callable, MutableMapping, Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from contracts.errors import ValidationError
from contracts.events import Event
from contracts.fold import (
    CONSTRUCTION,
    FOLLOW_UP,
    ON_PROJECT,
    CaseLink,
    Contribution,
    case_link,
    contributions,
    in_row,
    make_contribution,
    own_row,
)
from contracts.payloads import EventRetracted

ACTIVE, SUPERSEDED, RETRACTED = "active", "superseded", "retracted"
_MAX_CHAIN = 1000

#: Dead-letter reason of an event_id already received with different content.
CONFLICT = "event_id.conflict"

#: {"h": hash | None, "s": status, "by": event_id | None, "c": [[...]]}; an event of a case
#: adds "k" (the case's key), and a follow-up "r" (the row its own fold chose).
Entry = dict[str, Any]
#: A case: {"p": [keys of its active verified events naming a project], "m": [follow-ups]}.
Case = dict[str, Any]
Moves = tuple[tuple[Contribution, ...], tuple[Contribution, ...]]  # (removed, added)


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
    return list(map(list, items))


def _unpack(rows: list[list[Any]]) -> tuple[Contribution, ...]:
    return tuple(map(make_contribution, rows))


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
    """Decides each event's effect; `entries` and `cases` are any mutable mappings (dicts,
    a Faust table's views)."""

    def __init__(
        self,
        entries: MutableMapping[str, Entry] | None = None,
        cases: MutableMapping[str, Case] | None = None,
    ) -> None:
        self.entries: MutableMapping[str, Entry] = {} if entries is None else entries
        self.cases: MutableMapping[str, Case] = {} if cases is None else cases

    def apply(self, event: Event) -> Outcome:
        """Resolve one parsed event (the streams and the Kafka replay), scoped by its unit
        and source."""
        unit, source = event.unit, event.source
        retracts = event.payload.retracts if isinstance(event.payload, EventRetracted) else None
        link = case_link(event)
        return self.apply_record(
            scoped(unit, source, event.event_id),
            event.content_hash,
            supersedes=None if event.supersedes is None else scoped(unit, source, event.supersedes),
            retracts=None if retracts is None else scoped(unit, source, retracts),
            contributions=lambda: contributions(event),
            case=None if link is None else CaseLink(scoped(unit, source, link.case), link.role),
        )

    def apply_record(
        self,
        event_id: str,
        content_hash: str,
        *,
        supersedes: str | None,
        retracts: str | None,
        contributions: Sequence[Contribution] | Callable[[], Sequence[Contribution]],
        case: CaseLink | None = None,
    ) -> Outcome:
        """Resolve one event given only what the rules read: the one implementation of them.

        `retracts` is the target of an `event.retracted` (None for every other type);
        `contributions` is the event's fold (or a function computing it, called only if the
        event is added); `case` its tie to a case (`contracts.fold.case_link`, the case
        scoped like the event). `removed` and `added` include the contributions of the
        case's follow-ups the event moves to another row. The batch recompute feeds
        archived rows here without re-parsing:

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
            return self._replace_self(eid, known, digest, contributions, case)

        removed: tuple[Contribution, ...] = ()
        moved: Moves = ((), ())
        target = supersedes if supersedes not in (None, eid) else None
        kind = SUPERSEDED
        if retracts is not None:
            target, kind = retracts, RETRACTED
        if target is not None:
            removed, moved = self._deactivate(target, kind, eid)

        if known is not None:  # pre-empted: a correction or retraction arrived first
            known["h"] = digest
            self.entries[eid] = known
            detail = f"{known['s']} by {known['by']} before it arrived"
            if moved == ((), ()):
                return Outcome(Status.INACTIVE, removed=removed, detail=detail)
            return _moving(Status.INACTIVE, (removed, ()), moved, detail=detail)
        added = _fold(contributions)
        packed = _pack(added)
        entry: Entry = {"h": digest, "s": ACTIVE, "by": None, "c": packed}
        if case is None and moved == ((), ()):
            self.entries[eid] = entry
            return Outcome(Status.APPLIED, added=added, removed=removed)
        joined = self._join(eid, entry, case)
        if moved == joined == ((), ()):  # the common case: nothing else moved
            kept = entry["c"] is packed  # not put in the case's row by `_join`
            return Outcome(
                Status.APPLIED, added=added if kept else _unpack(entry["c"]), removed=removed
            )
        return _moving(Status.APPLIED, (removed, ()), moved, joined, ((), _unpack(entry["c"])))

    def _replace_self(
        self,
        eid: str,
        known: Entry,
        digest: str,
        fold: Sequence[Contribution] | Callable[[], Sequence[Contribution]],
        case: CaseLink | None,
    ) -> Outcome:
        if known["s"] != ACTIVE:
            self.entries[eid] = {**known, "h": digest, "c": []}
            return Outcome(Status.APPLIED)
        left = self._leave(eid, known)
        entry: Entry = {"h": digest, "s": ACTIVE, "by": known["by"], "c": _pack(_fold(fold))}
        joined = self._join(eid, entry, case)
        return _moving(
            Status.APPLIED, (_unpack(known["c"]), ()), left, joined, ((), _unpack(entry["c"]))
        )

    def _deactivate(
        self, target: str, kind: str, by: str
    ) -> tuple[tuple[Contribution, ...], Moves]:
        """Remove `target` (or the active head of its correction chain) from the figures;
        with the moves of its case's follow-ups if it was what put them in 建筑业."""
        for _ in range(_MAX_CHAIN):
            entry = self.entries.get(target)
            if entry is None:
                self.entries[target] = {"h": None, "s": kind, "by": by, "c": []}
                return (), ((), ())
            if entry["s"] == ACTIVE:
                removed = _unpack(entry["c"])
                self.entries[target] = {**entry, "s": kind, "by": by, "c": []}
                return removed, self._leave(target, entry)
            if kind == SUPERSEDED and entry["s"] == SUPERSEDED and entry["by"] not in (None, by):
                target = entry["by"]  # correct the current correction instead
                continue
            return (), ((), ())  # already retracted (or superseded by this very event)
        return (), ((), ())

    def _join(self, eid: str, entry: Entry, link: CaseLink | None) -> Moves:
        """Tie the active event `eid` (its `entry`, written here) to its case.

        A follow-up is placed in the case's row and listed with the case; a verified event
        naming a project is listed as one, and the first such moves every listed follow-up
        to 建筑业.
        """
        if link is None:
            self.entries[eid] = entry
            return (), ()
        entry["k"] = link.case
        case = self.cases.get(link.case) or {"p": [], "m": []}
        moves: Moves = ((), ())
        if link.role == FOLLOW_UP:
            items = _unpack(entry["c"])
            entry["r"] = own_row(items)
            if case["p"] and entry["r"] is not None:
                entry["c"] = _pack(in_row(items, CONSTRUCTION))
            case["m"].append(eid)
        elif link.role == ON_PROJECT:
            case["p"].append(eid)
        self.entries[eid] = entry
        if link.role == ON_PROJECT and len(case["p"]) == 1:
            moves = self._place(case, CONSTRUCTION)
        self.cases[link.case] = case
        return moves

    def _leave(self, eid: str, entry: Entry) -> Moves:
        """Untie `eid` (no longer counting as `entry`) from its case: the last verified event
        naming a project takes the follow-ups back to their own rows."""
        key = entry.get("k")
        case = None if key is None else self.cases.get(key)
        if key is None or case is None:
            return (), ()
        moves: Moves = ((), ())
        if eid in case["m"]:
            case["m"].remove(eid)
        if eid in case["p"]:
            case["p"].remove(eid)
            if not case["p"]:
                moves = self._place(case, None)
        self.cases[key] = case
        return moves

    def _place(self, case: Case, row: str | None) -> Moves:
        """Move the case's active follow-ups to `row` (None: each to its own row)."""
        removed: list[Contribution] = []
        added: list[Contribution] = []
        for member in case["m"]:
            entry = self.entries.get(member)
            if entry is None or entry["s"] != ACTIVE or entry.get("r") is None:
                continue
            old = _unpack(entry["c"])
            new = in_row(old, row or entry["r"])
            if new != old:
                self.entries[member] = {**entry, "c": _pack(new)}
                removed.extend(old)
                added.extend(new)
        return tuple(removed), tuple(added)

    def effective(self) -> dict[str, tuple[Contribution, ...]]:
        """Ledger key (`scoped`) -> contributions of every event that currently counts."""
        return {
            eid: _unpack(e["c"]) for eid, e in self.entries.items() if e["s"] == ACTIVE and e["c"]
        }


def _moving(status: Status, *moves: Moves, detail: str = "") -> Outcome:
    """One outcome of several moves, a contribution both removed and added cancelled out
    (a follow-up moved out and back in one step is not touched)."""
    removed = Counter(c for out, _ in moves for c in out)
    added = Counter(c for _, into in moves for c in into)
    both = removed & added
    return Outcome(
        status,
        added=tuple((added - both).elements()),
        removed=tuple((removed - both).elements()),
        detail=detail,
    )
