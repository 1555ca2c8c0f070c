"""File ingest: validate JSON Lines, produce good events to their topic, dead-letter the rest.

The routing (`Ingest`) knows nothing of Kafka: it hands records to a `Sink`, so the
counting, the duplicate and conflict rules and the dead-letter shape are tested
without a broker. `KafkaSink` is the real sink: an idempotent, acks=all producer
whose failures stop the run instead of being lost.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.clock import now_cst
from contracts.deadletter import dead_letter_value
from contracts.errors import ValidationError
from contracts.events import content_hash_of
from contracts.ledger import CONFLICT, conflict_error, cross_unit_error
from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import SOURCES, dead_letter_topic, source_topic
from pipeline.errors import ExitCode
from pipeline.ingest.sink import Sink
from pipeline.ingest.validators import Checked, Refused, Validators, validate_line

__all__ = [
    "CONFLICT",
    "Ingest",
    "Summary",
    "dead_letter_id",
    "dead_letter_record",
    "display_name",
    "known_event",
    "now_cst",
]

#: How often (in lines) `Ingest.feed` reports progress.
PROGRESS_EVERY = 4096


def known_event(record: bytes | None) -> tuple[str, str, str, str] | None:
    """(unit, source, event_id, content hash) of a record already in a source topic, for
    `--skip-known`,
    by the one content-hash function (`contracts.events.content_hash_of`, the strict decoder);
    None for a record that is no event object: the streams dead-letter it."""
    if record is None:
        return None
    try:
        digest = content_hash_of(record)
        obj = json.loads(record)
    except (ValidationError, ValueError):
        return None
    unit, source, event_id = obj.get("unit"), obj.get("source"), obj.get("event_id")
    if isinstance(unit, str) and len(unit) == 6 and source in SOURCES and isinstance(event_id, str):
        return unit, source, event_id, digest
    return None


#: The bytes of an id's scope in `Ingest._seen`: the unit's 6 digits and the source's index.
_SCOPE = 7


def _scope(unit: str, source: str) -> bytes:
    return unit.encode() + bytes((SOURCES.index(source),))


def _scope_name(scope: bytes) -> str:
    return f"{scope[:6].decode()} ({SOURCES[scope[6]]})"


def display_name(file: str) -> str:
    """A file name safe to put in JSON and headers (undecodable bytes escaped)."""
    return file.encode("utf-8", "backslashreplace").decode("utf-8")


def dead_letter_id(file: str, line: int, original: bytes) -> str:
    """Stable id of a rejected line: the same file, line and bytes give the same id.

    So re-ingesting a file re-sends the same dead letters under the same keys, and
    `deadletters list` shows each once.

    >>> dead_letter_id("a.jsonl", 3, b"{}") == dead_letter_id("a.jsonl", 3, b"{}")
    True
    """
    digest = hashlib.sha256()
    digest.update(file.encode("utf-8", "backslashreplace"))
    digest.update(b"\0%d\0" % line)
    digest.update(original)
    return digest.hexdigest()[:24]


def dead_letter_record(
    original: bytes,
    file: str | None,
    line: int | None,
    err: ValidationError,
    *,
    origin: str = "ingest",
    rejected_at: datetime | None = None,
) -> dict[str, Any]:
    """The dead-letter value: the original bytes, where they came from and why they were refused.

    The original is kept as text when it is valid UTF-8, else base64 with
    `"original_encoding": "base64"`, so nothing of it is lost.
    """
    name = display_name(file) if file is not None else None
    return dead_letter_value(
        dead_letter_id(name or "", line or 0, original),
        original,
        err,
        origin=origin,
        file=name,
        line=line,
        rejected_at=rejected_at or now_cst(),
    )


@dataclass
class Summary:
    """What an ingest run did, line by line accounted for."""

    lines: int = 0
    accepted: Counter[str] = field(default_factory=Counter)  # by source
    duplicates: int = 0
    blank: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by reason
    #: Inputs with no record at all (no line, or blank lines only): a warning, not an error.
    empty: list[str] = field(default_factory=list)

    @property
    def accepted_total(self) -> int:
        return sum(self.accepted.values())

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "accepted": self.accepted_total,
            "accepted_by_source": dict(sorted(self.accepted.items())),
            "duplicates": self.duplicates,
            "blank": self.blank,
            "rejected": self.rejected_total,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "empty_files": list(self.empty),
        }

    @property
    def exit_code(self) -> ExitCode:
        """0 when every record was accepted (duplicates and blank lines are fine), else 3."""
        return ExitCode.REJECTED if self.rejected_total else ExitCode.OK


class Ingest:
    """Route lines: good events to their source topic keyed by unit, the rest to dead letters.

    Ids are scoped by unit (SPEC 5.1). Duplicates in the input (same unit and event_id,
    same content) are skipped; the same event_id of a unit with different content and no
    supersedes is a conflict and is dead-lettered, and so is a correction or retraction
    naming an event this input holds only under another unit. The check keeps one entry
    per distinct event_id (the id, its unit and a 16-byte content digest, roughly 150
    bytes), about 150 MB per million distinct events: fine up to a few tens of millions
    per run. Split larger loads into several runs; the streams dedupe across runs anyway.
    Events already in Kafka count as duplicates only if `remember`ed first
    (`ingest --skip-known`).

    With `validators=N`, `feed` parses and validates in N separate processes, in
    chunks (`Validators`), while this process routes and produces: the same
    records in the same order, on another core. At most IN_FLIGHT chunks per
    validator are out at a time, so memory stays flat. `close()` stops them.

    >>> sink = ListSink()
    >>> ingest = Ingest(Registry.load(), Settings(), sink)
    >>> ingest.line("f.jsonl", 1, b"not json\\n")
    'rejected'
    >>> ingest.summary.rejected
    Counter({'json.invalid': 1})
    """

    def __init__(
        self,
        registry: Registry,
        settings: Settings,
        sink: Sink,
        *,
        origin: str = "ingest",
        clock: Callable[[], datetime] = now_cst,
        validators: int = 0,
    ) -> None:
        self.registry = registry
        self.sink = sink
        self.summary = Summary()
        self.origin = origin
        self.clock = clock
        self.validators = validators
        self._pool: Validators | None = None
        self._topics = {source: source_topic(settings, source) for source in SOURCES}
        self._dead_letters = dead_letter_topic(settings)
        #: event_id -> its scope (`_scope`: unit and source, 7 bytes) and content digest; an
        #: id seen in several scopes (several events: ids are scoped by unit and source)
        #: maps to {scope: digest}.
        self._seen: dict[str, bytes | dict[bytes, bytes]] = {}

    def __enter__(self) -> Ingest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the validator processes, if any were started."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def remember(self, unit: str, source: str, event_id: str, content_hash: str) -> None:
        """Treat `event_id` of `unit` and `source` as already sent with this content
        (`--skip-known`)."""
        code = _scope(unit, source)
        if self._digest_of(code, event_id) is None:
            self._remember(code, event_id, bytes.fromhex(content_hash[:32]))

    def _digest_of(self, code: bytes, event_id: str) -> bytes | None:
        seen = self._seen.get(event_id)
        if isinstance(seen, bytes):
            return seen[_SCOPE:] if seen[:_SCOPE] == code else None
        return None if seen is None else seen.get(code)

    def _remember(self, code: bytes, event_id: str, digest: bytes) -> None:
        seen = self._seen.get(event_id)
        if seen is None:
            self._seen[event_id] = code + digest
        elif isinstance(seen, bytes):
            self._seen[event_id] = {seen[:_SCOPE]: seen[_SCOPE:], code: digest}
        else:
            seen.setdefault(code, digest)

    def _scopes_of(self, event_id: str) -> set[bytes]:
        seen = self._seen.get(event_id)
        if seen is None:
            return set()
        return {seen[:_SCOPE]} if isinstance(seen, bytes) else set(seen)

    @property
    def remembered(self) -> int:
        return len(self._seen)

    def line(self, file: str, number: int, data: bytes) -> str:
        """Route one line; returns "accepted", "duplicate", "blank" or "rejected"."""
        return self._route(
            file, display_name(file).encode(), number, data, validate_line(data, self.registry)
        )

    def _route(
        self, file: str, file_header: bytes, number: int, data: bytes, checked: Checked
    ) -> str:
        self.summary.lines += 1
        if checked is None:
            self.summary.blank += 1
            return "blank"
        raw = data.rstrip(b"\r\n")
        if isinstance(checked, Refused):
            self.reject(file, number, raw, checked.error())
            return "rejected"
        source, unit, event_id, digest, supersedes, target, retraction = checked
        code = _scope(unit, source)
        if target is not None:
            scopes = self._scopes_of(target)
            if scopes and code not in scopes:
                names = sorted(_scope_name(s) for s in scopes)
                error = cross_unit_error(
                    event_id, f"{unit} ({source})", target, names, retraction=retraction
                )
                self.reject(file, number, raw, error)
                return "rejected"
        seen = self._digest_of(code, event_id)
        if seen is None:
            self._remember(code, event_id, digest)
        elif seen == digest:
            self.summary.duplicates += 1
            return "duplicate"
        elif not supersedes:
            self.reject(file, number, raw, conflict_error(event_id))
            return "rejected"
        # A different body under a seen id *with* supersedes goes on: the ledger decides.
        self.sink.send(
            self._topics[source],
            unit.encode(),
            raw,
            [("arrears-file", file_header), ("arrears-line", b"%d" % number)],
        )
        self.summary.accepted[source] += 1
        return "accepted"

    def reject(self, file: str, number: int, raw: bytes, err: ValidationError) -> None:
        record = dead_letter_record(
            raw, file, number, err, origin=self.origin, rejected_at=self.clock()
        )
        value = json.dumps(record, ensure_ascii=False).encode("utf-8")
        self.sink.send(self._dead_letters, record["id"].encode(), value, [])
        self.summary.rejected[err.reason] += 1

    def feed(
        self,
        file: str,
        lines: Iterable[bytes],
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Route every line of one file (an open binary file iterates line by line).

        `progress(lines, bytes)` is called every few thousand lines with the
        counts for this file so far, and once at the end. A file with no record (empty,
        or blank lines only) is listed in `summary.empty`.
        """
        file_header = display_name(file).encode()
        checked = (
            self._checked(lines)
            if self.validators > 0
            else ((data, validate_line(data, self.registry)) for data in lines)
        )
        consumed = 0
        number = 0
        blank = self.summary.blank
        for number, (data, result) in enumerate(checked, 1):
            consumed += len(data)
            self._route(file, file_header, number, data, result)
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number, consumed)
        if progress is not None:
            progress(number, consumed)
        if self.summary.blank - blank == number:
            self.summary.empty.append(display_name(file))

    def _checked(self, lines: Iterable[bytes]) -> Iterable[tuple[bytes, Checked]]:
        """Each line with its validation, done by the validator processes, in input order."""
        if self._pool is None:
            self._pool = Validators(self.validators, self.registry)
        return self._pool.checked(lines)
