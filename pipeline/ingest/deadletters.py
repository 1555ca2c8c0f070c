"""Dead letters: read them back with their resolution status, export them to fix, resubmit them.

A dead letter is never deleted. Resubmitting a fixed record produces it to its
source topic and then writes a mark `{"id", "status": "resolved", "event_id",
"resolved_at"}` to the compacted status topic; the list merges the marks in.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from contracts.clock import CST
from contracts.deadletter import record_json
from contracts.errors import ValidationError
from contracts.events import parse_event
from contracts.ledger import CONFLICT, conflict_error
from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import dead_letter_status_topic, dead_letter_topic, source_topic
from pipeline.errors import ExitCode
from pipeline.ingest.routing import now_cst
from pipeline.ingest.sink import Headers

__all__ = [
    "DeadLetter",
    "DeadLetterError",
    "read_to_end",
    "merge",
    "load",
    "select",
    "export_line",
    "ResubmitPlan",
    "plan_resubmit",
    "STATUSES",
]

STATUSES = ("open", "resolved", "all")
#: A read that gets no records and makes no progress for this long is an error.
STALL_SECONDS = 60.0


class DeadLetterError(Exception):
    """The dead-letter topics cannot be read as expected."""


@dataclass(frozen=True)
class DeadLetter:
    """One rejected record, with its status merged from the status topic."""

    id: str
    original: str
    original_encoding: str  # "utf-8" or "base64"
    file: str | None
    line: int | None
    reason: str
    message: str
    field: str | None
    rejected_at: str | None
    origin: str | None
    status: str = "open"
    event_id: str | None = None  # of the resubmitted event, once resolved
    resolved_at: str | None = None

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> DeadLetter:
        return cls(
            id=str(value["id"]),
            original=str(value.get("original", "")),
            original_encoding=str(value.get("original_encoding", "utf-8")),
            file=value.get("file"),
            line=value.get("line"),
            reason=str(value.get("reason", "?")),
            message=str(value.get("message", "")),
            field=value.get("field"),
            rejected_at=value.get("rejected_at"),
            origin=value.get("origin"),
        )

    @property
    def where(self) -> str:
        if self.file is None:
            return "-"
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def original_bytes(self) -> bytes:
        if self.original_encoding == "base64":
            return base64.b64decode(self.original)
        return self.original.encode("utf-8")


def read_to_end(bootstrap: str, topics: list[str]) -> Iterator[ConsumerRecord]:
    """Every record of `topics` from the beginning up to the end offsets seen at the start.

    No consumer group: the partitions are assigned directly. The read stops when
    every partition's position reaches its captured end offset; a read that makes
    no progress for STALL_SECONDS is an error, not an end.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id="arrears-deadletters",
        auto_offset_reset="earliest",
        allow_auto_create_topics=False,
    )
    try:
        present = consumer.topics()
        missing = [t for t in topics if t not in present]
        if missing:
            raise DeadLetterError(
                f"topic(s) {', '.join(missing)} do not exist; create the "
                "declared topics with `arrears infra up`"
            )
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        consumer.seek_to_beginning(*partitions)
        remaining = set(partitions)
        progress_at = time.monotonic()
        while remaining:
            for tp in list(remaining):
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if not remaining:
                break
            batch = consumer.poll(timeout_ms=500)
            if batch:
                progress_at = time.monotonic()
            elif time.monotonic() - progress_at > STALL_SECONDS:
                raise DeadLetterError(
                    f"reading {', '.join(topics)} made no progress for {STALL_SECONDS:.0f}s; "
                    f"still short of the end offsets on {sorted(map(str, remaining))}"
                )
            for tp, records in batch.items():
                end = ends[tp]
                for record in records:
                    if record.offset < end:
                        yield record
    finally:
        consumer.close()


def merge(
    dead_letters: Iterable[bytes | None], marks: Iterable[tuple[bytes | None, bytes | None]]
) -> tuple[list[DeadLetter], int]:
    """Dead letters in the order first seen (the latest value per id wins), marks applied.

    Returns the list and the number of values that could not be read (not a JSON
    object with an id): those are counted, not hidden.
    """
    by_id: dict[str, DeadLetter] = {}
    unreadable = 0
    for value in dead_letters:
        try:
            parsed = json.loads(value) if value is not None else None
            letter = DeadLetter.from_value(parsed)  # type: ignore[arg-type]
        except (ValueError, TypeError, KeyError):
            unreadable += 1
            continue
        by_id[letter.id] = letter
    status: dict[str, dict[str, Any] | None] = {}
    for key, value in marks:
        if key is None:
            continue
        try:
            status[key.decode()] = json.loads(value) if value is not None else None
        except (ValueError, UnicodeDecodeError):
            unreadable += 1
    for dl_id, mark in status.items():
        if mark is not None and dl_id in by_id and mark.get("status") == "resolved":
            by_id[dl_id] = replace(
                by_id[dl_id],
                status="resolved",
                event_id=mark.get("event_id"),
                resolved_at=mark.get("resolved_at"),
            )
    return list(by_id.values()), unreadable


def load(bootstrap: str, settings: Settings) -> tuple[list[DeadLetter], int]:
    """All dead letters with their status, read from the two topics up to their current end."""
    values = [r.value for r in read_to_end(bootstrap, [dead_letter_topic(settings)])]
    marks = [(r.key, r.value) for r in read_to_end(bootstrap, [dead_letter_status_topic(settings)])]
    return merge(values, marks)


def select(
    letters: Iterable[DeadLetter],
    *,
    status: str = "open",
    reason: str | None = None,
    file: str | None = None,
) -> list[DeadLetter]:
    """Filter by status (open, resolved, all), reason, and file (full name or base name)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    out = []
    for letter in letters:
        if status != "all" and letter.status != status:
            continue
        if reason is not None and letter.reason != reason:
            continue
        if (
            file is not None
            and letter.file != file
            and (letter.file or "").rsplit("/", 1)[-1] != file
        ):
            continue
        out.append(letter)
    return out


def _strict_json(text: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("duplicate key")
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)


def export_line(letter: DeadLetter) -> dict[str, Any]:
    """One line of the fix-me file: the record to edit, and where it came from.

    The record is the original parsed as JSON when it is clean JSON; otherwise the
    original text as a string (with undecodable bytes replaced: the exact bytes are
    under `_deadletter.original_base64`), so nothing a person must see is hidden by
    the parse.
    """
    raw = letter.original_bytes()
    text = raw.decode("utf-8", errors="replace")
    try:
        record: Any = _strict_json(text) if letter.original_encoding != "base64" else text
    except ValueError:
        record = text
    meta: dict[str, Any] = {
        "id": letter.id,
        "file": letter.file,
        "line": letter.line,
        "reason": letter.reason,
        "message": letter.message,
    }
    if letter.original_encoding == "base64":
        meta["original_base64"] = letter.original
    return {"record": record, "_deadletter": meta}


@dataclass
class ResubmitPlan:
    """What a resubmit file asks for, checked against the contracts and the dead-letter status."""

    #: (topic, key, value, headers) of each fixed event, in file order
    events: list[tuple[str, bytes, bytes, Headers]] = field(default_factory=list)
    #: (key, value) status marks to write once the events are acknowledged
    marks: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: (dead-letter id, event_id) of each fixed record
    resolved: list[tuple[str, str]] = field(default_factory=list)
    #: dead-letter ids skipped because they are already resolved (or twice in the file)
    skipped: list[str] = field(default_factory=list)
    #: (line in the resubmit file, dead-letter id or None, reason, message) still wrong
    still_bad: list[tuple[int, str | None, str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return ExitCode.REJECTED if self.still_bad else 0


def _event_id_of(letter: DeadLetter) -> str | None:
    """The event_id the dead-lettered record carried, if it is readable."""
    try:
        value = json.loads(letter.original_bytes())
    except ValueError:
        return None
    event_id = value.get("event_id") if isinstance(value, dict) else None
    return event_id if isinstance(event_id, str) else None


def plan_resubmit(
    lines: Iterable[bytes],
    letters: dict[str, DeadLetter],
    registry: Registry,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> ResubmitPlan:
    """Validate each `record` of an (edited) export file; plan its event and its status mark.

    A record still bad is reported and creates no new dead letter (the old one
    stays open). A dead letter already resolved is skipped, so resubmitting the
    same file twice counts each fixed record once.
    """
    plan = ResubmitPlan()
    stamp = (now or now_cst()).astimezone(CST).isoformat(timespec="seconds")
    done: set[str] = set()
    for number, data in enumerate(lines, 1):
        if not data.strip():
            continue
        try:
            item = json.loads(data)
            dl_id = item["_deadletter"]["id"]
            record = item["record"]
            if not isinstance(dl_id, str):
                raise TypeError
        except (ValueError, TypeError, KeyError):
            plan.still_bad.append(
                (
                    number,
                    None,
                    "resubmit.format",
                    'each line must be {"record": ..., "_deadletter": {"id": ...}} '
                    "as written by `arrears deadletters export`",
                )
            )
            continue
        letter = letters.get(dl_id)
        if letter is None:
            plan.still_bad.append(
                (
                    number,
                    dl_id,
                    "resubmit.unknown_id",
                    f"no dead letter {dl_id} in {dead_letter_topic(settings)}",
                )
            )
            continue
        if letter.status == "resolved" or dl_id in done:
            plan.skipped.append(dl_id)
            continue
        value = (
            record if isinstance(record, str) else record_json(record, separators=(", ", ": "))
        ).encode()
        try:
            event = parse_event(value, registry)
        except ValidationError as err:
            plan.still_bad.append((number, dl_id, err.reason, str(err)))
            continue
        if letter.reason == CONFLICT and event.event_id == _event_id_of(letter):
            # Kafka already holds other content under this event_id: the Ledger would refuse
            # the record again, so it would count zero times. It stays open.
            conflict = conflict_error(
                event.event_id,
                "is still a conflict: other content was received under this event_id first; "
                "resubmitting it unchanged would count it zero times",
            )
            plan.still_bad.append((number, dl_id, conflict.reason, str(conflict)))
            continue
        done.add(dl_id)
        plan.events.append(
            (
                source_topic(settings, event.source),
                event.unit.encode(),
                value,
                [("arrears-deadletter", dl_id.encode())],
            )
        )
        mark = {"id": dl_id, "status": "resolved", "event_id": event.event_id, "resolved_at": stamp}
        plan.marks.append((dl_id.encode(), json.dumps(mark, ensure_ascii=False).encode()))
        plan.resolved.append((dl_id, event.event_id))
    return plan
