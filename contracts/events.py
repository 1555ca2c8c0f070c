"""The event envelope (SPEC 5.1): parse, validate, upcast and hash one event."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from contracts import _parse as p
from contracts import payloads as m
from contracts._parse import MAX_WORKERS, MAX_YUAN
from contracts.errors import MISSING, ValidationError
from contracts.records import (
    MAX_DEPTH,
    MAX_RECORD_BYTES,
    canonical_json,
    check_limits,
    event_json,
    nesting_depth,
    quick_load,
    sha256_of,
    strict_load,
)
from contracts.registry import Registry

__all__ = [
    "SCHEMA_VERSION",
    "SOURCES",
    "TYPES",
    "RETRACTED",
    "Event",
    "parse_event",
    "upcast",
    "canonical_json",
    "content_hash_of",
    "check_key",
    "check_limits",
    "nesting_depth",
    "MAX_RECORD_BYTES",
    "MAX_DEPTH",
    "MAX_WORKERS",
    "MAX_YUAN",
]

#: The version of the event contract this code reads; older events are upcast to it.
SCHEMA_VERSION = 1
RETRACTED = "event.retracted"

#: source -> type -> payload model (SPEC 5.2), before `event.retracted` joins each source.
_PAYLOADS: dict[str, dict[str, type[m.Payload]]] = {
    "inspection": {
        "employer.inspected": m.EmployerInspected,
        "arrears.verified": m.ArrearsVerified,
        "arrears.resolved": m.ArrearsResolved,
        "order.issued": m.OrderIssued,
        "case.transferred": m.CaseTransferred,
        "case.filed": m.CaseFiled,
        "employer.published": m.EmployerPublished,
        "employer.blacklisted": m.EmployerBlacklisted,
    },
    "mediation": {"dispute.resolved": m.DisputeResolved},
    "court": {"execution.concluded": m.ExecutionConcluded},
    "complaint": {
        "lead.received": m.LeadReceived,
        "lead.merged": m.LeadMerged,
        "lead.verified": m.LeadVerified,
        "lead.closed": m.LeadClosed,
    },
}
#: source -> type -> payload model (SPEC 5.2); `event.retracted` is valid for every source.
TYPES: MappingProxyType[str, MappingProxyType[str, type[m.Payload]]] = MappingProxyType(
    {
        source: MappingProxyType({**types, RETRACTED: m.EventRetracted})
        for source, types in _PAYLOADS.items()
    }
)
SOURCES = tuple(TYPES)
_ENVELOPE = p.Keys(
    ("event_id", "source", "type", "occurred_at", "unit", "payload"),
    ("recorded_at", "supersedes", "schema_version"),
)


@dataclass(frozen=True, slots=True)
class Event:
    """One validated event. Times are aware datetimes in +08:00; money in payloads is int fen.

    `raw` is the JSON object as received (before upcasting); treat it as read-only.
    """

    event_id: str
    source: str
    type: str
    occurred_at: datetime
    recorded_at: datetime | None
    unit: str
    supersedes: str | None
    payload: m.Payload
    schema_version: int = SCHEMA_VERSION
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def content_hash(self) -> str:
        """sha256 hex of the canonical JSON of `raw`: the idempotency check for resends."""
        return sha256_of(self.raw)

    def to_json(self) -> str:
        """The event as canonical JSON, exactly as received (key order aside)."""
        return event_json(self.raw)


def content_hash_of(record: bytes | str) -> str:
    """`parse_event(record, ...).content_hash` of a record known to be a valid event,
    without validating it again (the Kafka replay hashes resent records this way)."""
    loaded = strict_load(record)  # not quick_load: it may read a valid record's number as a float
    if not isinstance(loaded, dict):
        raise ValidationError(
            "", MISSING, "an event must be a JSON object", reason="json.not_object"
        )
    return sha256_of(loaded)


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring an event object of any supported `schema_version` to SCHEMA_VERSION.

    Version 1 is the first version, so this is the identity for now; a version 2
    adds its step here and nothing downstream changes.
    """
    version = raw.get("schema_version", 1)
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or not 1 <= version <= SCHEMA_VERSION
    ):
        raise ValidationError(
            "schema_version",
            version,
            f"unsupported schema version; this code reads 1 to {SCHEMA_VERSION}",
            reason="schema_version.unsupported",
        )
    return raw


def parse_event(raw: bytes | str | dict[str, Any], registry: Registry) -> Event:
    """Validate one event (JSON bytes, text or an already parsed object).

    Raises ValidationError whose `reason` names the rule broken and whose message
    names the field, the value and how to fix it; never anything else: the limits of a
    record (`check_limits`) come before any decoding, and an unexpected failure while
    reading one record is a ValidationError with reason `internal`, so no record can stop
    the process reading it (ingest, the workers, the archiver, the replay readers).

    >>> parse_event(b'{"event_id": "x"}', Registry.load())
    Traceback (most recent call last):
    ...
    contracts.errors.ValidationError: source: required field is missing; add 'source'
    """
    try:
        if isinstance(raw, bytes | bytearray | str):
            check_limits(raw)
        if type(raw) is bytes:
            quick = quick_load(raw)
            if quick is not None:
                try:
                    return event_from(quick, raw, registry)
                except ValidationError:
                    pass  # the strict decoder's reading decides, and names the rule broken
        return event_from(strict_load(raw), raw, registry)
    except ValidationError:
        raise
    except Exception as exc:  # one record must never stop a process
        raise ValidationError(
            "",
            MISSING,
            f"could not be read ({type(exc).__name__}: {str(exc)[:200]})",
            reason="internal",
            hint="this is a defect of arrears, not of the record alone: report it with the record",
        ) from exc


def check_key(event: Event, key: bytes | None) -> None:
    """Refuse an event whose record key is not its unit (`key.not_unit`).

    The source topics are keyed by unit (SPEC 9), so one unit's events sit in one
    partition, in order, where its corrections meet their targets and its resends are
    seen as resends; an event keyed otherwise could be counted apart from its unit's
    others. Every reader of a source topic (the workers, the archiver, the replays)
    applies this, so all paths refuse the same records.
    """
    if key == event.unit.encode():
        return
    shown = MISSING if key is None else key.decode("utf-8", "backslashreplace")
    raise ValidationError(
        "key",
        shown,
        f"is the record's key, but the event's unit is {event.unit}: source topics are keyed "
        "by unit, so a unit's events keep their order",
        reason="key.not_unit",
        hint=f"produce it again with key {event.unit} (arrears ingest keys every event so)",
    )


def event_from(loaded: Any, raw: bytes | str | dict[str, Any], registry: Registry) -> Event:
    """parse_event of the record `raw` once decoded to `loaded`."""
    if not isinstance(loaded, dict):
        raise ValidationError(
            "", MISSING, "an event must be a JSON object", reason="json.not_object"
        )
    data = p.obj(upcast(loaded), "", _ENVELOPE)
    event_id = p.ident(data["event_id"], "event_id")
    source = p.enum(data["source"], "source", SOURCES)
    type_ = p.text(data["type"], "type")
    model = TYPES[source].get(type_)
    if model is None:
        owners = [s for s, types in TYPES.items() if type_ in types]
        if owners:
            raise ValidationError(
                "type",
                type_,
                f"belongs to source {owners[0]}, not {source}",
                reason="type.wrong_source",
                hint=f"{source} sends: {', '.join(TYPES[source])}",
            )
        raise ValidationError(
            "type",
            type_,
            f"unknown type for source {source}",
            reason="type.unknown",
            hint=f"{source} sends: {', '.join(TYPES[source])}",
        )
    occurred_at = p.timestamp(data["occurred_at"], "occurred_at")
    recorded = data.get("recorded_at")
    recorded_at = None if recorded is None else p.timestamp(recorded, "recorded_at")
    unit = registry.unit(data["unit"], field="unit").code
    supersedes = data.get("supersedes")
    if supersedes is not None:
        supersedes = p.ident(supersedes, "supersedes")
        if supersedes == event_id:
            raise ValidationError(
                "supersedes",
                supersedes,
                "an event cannot supersede itself",
                reason="supersedes.self",
                hint="a correction needs its own new event_id",
            )
    payload = m.parse_payload(model, data["payload"])
    if isinstance(payload, m.EventRetracted) and payload.retracts == event_id:
        raise ValidationError(
            "payload.retracts",
            payload.retracts,
            "an event cannot retract itself",
            reason="retracts.self",
        )
    return Event(
        event_id,
        source,
        type_,
        occurred_at,
        recorded_at,
        unit,
        supersedes,
        payload,
        SCHEMA_VERSION,
        copy.deepcopy(loaded) if loaded is raw else loaded,
    )
