"""Dead letters read back: both topics to their end, merged with their status, selected.

A dead letter is never deleted. Resubmitting a fixed record (`pipeline.ingest.resubmit`)
produces it to its source topic and then writes a mark `{"id", "status": "resolved",
"event_id", "resolved_at"}` to the compacted status topic; the list merges the marks in.
One that can never be fixed (the source confirms the record was junk) is dismissed: a
mark `{"id", "status": "dismissed", "dismissed_by", "dismissed_at", "dismissal"}` (who,
when, why); dismissed letters no longer count toward the quality gate's thresholds.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from infra.settings import Settings
from infra.topics import dead_letter_status_topic, dead_letter_topic

__all__ = [
    "DeadLetter",
    "DeadLetterError",
    "read_to_end",
    "merge",
    "load",
    "select",
    "STATUSES",
    "DismissPlan",
    "plan_dismiss",
]

STATUSES = ("open", "resolved", "dismissed", "all")
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
    dismissed_by: str | None = None  # who dismissed it, when and why (status dismissed)
    dismissed_at: str | None = None
    dismissal: str | None = None

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
        elif mark is not None and dl_id in by_id and mark.get("status") == "dismissed":
            by_id[dl_id] = replace(
                by_id[dl_id],
                status="dismissed",
                dismissed_by=mark.get("dismissed_by"),
                dismissed_at=mark.get("dismissed_at"),
                dismissal=mark.get("dismissal"),
            )
    return list(by_id.values()), unreadable


@dataclass
class DismissPlan:
    """The status marks that dismiss dead letters, and what was left alone."""

    marks: list[tuple[bytes, bytes]]
    dismissed: list[str]
    skipped: list[tuple[str, str]]  # (id, its status): resolved or dismissed already
    unknown: list[str]


def plan_dismiss(
    ids: Iterable[str], letters: dict[str, DeadLetter], *, by: str, why: str, at: str
) -> DismissPlan:
    """Marks `{"id", "status": "dismissed", "dismissed_by", "dismissed_at", "dismissal"}`
    for each open dead letter of `ids`; unknown ids and closed letters are reported."""
    if not why.strip():
        raise ValueError("a dismissal needs a reason (--reason TEXT): why can it never be fixed?")
    plan = DismissPlan([], [], [], [])
    for dl_id in dict.fromkeys(ids):
        letter = letters.get(dl_id)
        if letter is None:
            plan.unknown.append(dl_id)
        elif letter.status != "open":
            plan.skipped.append((dl_id, letter.status))
        else:
            mark = {
                "id": dl_id,
                "status": "dismissed",
                "dismissed_by": by,
                "dismissed_at": at,
                "dismissal": why.strip(),
            }
            plan.marks.append((dl_id.encode(), json.dumps(mark, ensure_ascii=False).encode()))
            plan.dismissed.append(dl_id)
    return plan


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
