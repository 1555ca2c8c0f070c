"""Fixing dead letters: export them to a file a person edits, and plan the resubmit of that file.

`export_line` writes each dead letter as `{"record", "_deadletter"}`; `plan_resubmit`
validates each edited record against the contracts and the dead letters' status, and
plans its event and the status mark `{"id", "status": "resolved", "event_id",
"resolved_at"}` written once the event is acknowledged (`arrears deadletters resubmit`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.clock import CST
from contracts.deadletter import record_json
from contracts.errors import ValidationError
from contracts.events import parse_event
from contracts.ledger import CONFLICT, conflict_error
from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import dead_letter_topic, source_topic
from pipeline.errors import ExitCode
from pipeline.ingest.deadletters import DeadLetter
from pipeline.ingest.routing import now_cst
from pipeline.ingest.sink import Headers

__all__ = ["export_line", "ResubmitPlan", "plan_resubmit"]


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
