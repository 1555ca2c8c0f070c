"""The event envelope (SPEC 5.1): parse, validate, upcast and hash one event."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import orjson

from contracts import _parse as p
from contracts import payloads as m
from contracts._parse import MAX_WORKERS, MAX_YUAN
from contracts.errors import MISSING, ValidationError
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
    "check_limits",
    "nesting_depth",
    "MAX_RECORD_BYTES",
    "MAX_DEPTH",
    "MAX_WORKERS",
    "MAX_YUAN",
]

#: The version of the event contract this code reads; older events are upcast to it.
SCHEMA_VERSION = 1
#: The largest record that may be an event (a real one is under 2 kB): `record.too_large`.
MAX_RECORD_BYTES = 64 * 1024
#: The deepest nesting of objects and arrays an event may have (a real one has 3): `json.depth`.
MAX_DEPTH = 16
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


#: json.dumps with options builds this encoder on every call; one shared instance saves
#: ~1 µs an event and gives the same text.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no white space: equal JSON values give equal text."""
    return _CANONICAL.encode(value)


def _event_json_encoder() -> Callable[[dict[str, Any]], str]:
    """canonical_json for a parsed event's object, ~1 µs faster: the C encoder that
    `_CANONICAL.encode` builds on every call, built once and without the cycle check (a
    parsed event is a tree). The same text: tests/contracts/test_fast_paths.py checks it."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python built without the _json accelerator
        return canonical_json
    encode = make(
        None,
        _CANONICAL.default,
        json.encoder.encode_basestring,
        None,
        _CANONICAL.key_separator,
        _CANONICAL.item_separator,
        True,
        False,
        True,
    )
    return lambda value: "".join(encode(value, 0))


_event_json = _event_json_encoder()


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
        return _sha256_of(self.raw)

    def to_json(self) -> str:
        """The event as canonical JSON, exactly as received (key order aside)."""
        return _event_json(self.raw)


def _sha256_of(raw: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical_bytes(raw)).hexdigest()


def _canonical_bytes(raw: dict[str, Any]) -> bytes:
    """`canonical_json(raw).encode()` for a valid event's object, by orjson: 0.5 µs, not 3.4.

    The same bytes for everything a valid event holds: strings (all of Unicode, keys
    too, sorted alike), integers (past 64 bits orjson refuses and the standard encoder
    writes them), booleans, null, objects and arrays. Not for floats (orjson writes NaN
    as null and 1e16 as 1e16), which the contract refuses in every field.
    tests/contracts/test_fast_paths.py holds it to json.dumps.
    """
    try:
        return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return _event_json(raw).encode()


def content_hash_of(record: bytes | str) -> str:
    """`parse_event(record, ...).content_hash` of a record known to be a valid event,
    without validating it again (the Kafka replay hashes resent records this way)."""
    loaded = _load(record)  # not _quick_load: it may read a valid record's number as a float
    if not isinstance(loaded, dict):
        raise ValidationError(
            "", MISSING, "an event must be a JSON object", reason="json.not_object"
        )
    return _sha256_of(loaded)


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


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # rare: find the first key seen twice, to name it
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValidationError(
                    key,
                    MISSING,
                    "appears twice in one JSON object",
                    reason="json.duplicate_key",
                    hint="keep one of them",
                )
            seen.add(key)
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


#: One strict decoder for every record (json.loads with options builds one per call).
_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def _decode(text: str) -> Any:
    """`_DECODER.decode(text)`. A record with no white space around its value (every line
    the pipeline writes) skips decode()'s two Python frames and two white-space matches:
    ~0.4 µs an event. Anything else takes decode() itself, so errors read as before."""
    try:
        # scan_once is set by JSONDecoder.__init__; typeshed does not declare it
        value, end = _DECODER.scan_once(text, 0)  # type: ignore[attr-defined]
    except StopIteration:  # white space first, or no value at all
        return _DECODER.decode(text)
    return value if end == len(text) else _DECODER.decode(text)


def _quick_load(raw: bytes) -> dict[str, Any] | None:
    """What the strict decoder makes of a compact record with no escapes, in a third of
    its time (orjson); None for anything else, which only the strict decoder may read.

    orjson keeps the last of a repeated key where the strict decoder refuses the record, so
    the object is written out again: with no escape in the record, each string comes back
    as it went in, and any white space between tokens, repeated key or long-winded number
    makes the record longer than what comes back. orjson also reads an integer past 2**64
    as a float; no valid event holds a float, so parse_event reads any record it rejects
    again with the strict decoder, and its errors and answers are those of the strict one.
    tests/contracts/test_fast_paths.py checks the two agree.
    """
    # A record written with separators such as json.dumps's default ", " and ": " shows it
    # by its first key: such a record goes to the strict decoder without orjson's attempt.
    if raw[:1] != b"{" or b"\\" in raw or raw.find(b'": ', 0, 64) >= 0:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if len(orjson.dumps(value)) == len(raw) else None


def _load(raw: bytes | str | dict[str, Any]) -> Any:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValidationError(
                "",
                MISSING,
                f"the record is not valid UTF-8 (byte {err.start})",
                reason="json.utf8",
                hint="re-encode the file as UTF-8",
            ) from None
    if not isinstance(raw, str):
        raise ValidationError(
            "", MISSING, f"expected JSON text, got {type(raw).__name__}", reason="json.invalid"
        )
    try:
        if raw.startswith("\ufeff"):  # as json.loads says it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
        return _decode(raw)
    except ValueError as err:  # ValidationError (duplicate keys) is not a ValueError
        raise ValidationError(
            "",
            MISSING,
            f"not valid JSON: {err}",
            reason="json.invalid",
            hint="each line must hold one complete JSON object",
        ) from None


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
            quick = _quick_load(raw)
            if quick is not None:
                try:
                    return _event_of(quick, raw, registry)
                except ValidationError:
                    pass  # the strict decoder's reading decides, and names the rule broken
        return _event_of(_load(raw), raw, registry)
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


def check_limits(raw: bytes | str) -> None:
    """Refuse a record too large (`record.too_large`) or too deeply nested (`json.depth`)
    for any event, before a decoder sees it: a real event is under 2 kB and 3 levels deep,
    and a deep record would exhaust a decoder's recursion."""
    size = len(raw) if isinstance(raw, bytes | bytearray) else len(raw.encode("utf-8", "replace"))
    if size > MAX_RECORD_BYTES:
        raise ValidationError(
            "",
            MISSING,
            f"the record is {size:,} bytes; an event is at most {MAX_RECORD_BYTES:,}",
            reason="record.too_large",
            hint="an event is one line of JSON; check the line is not several records or a file",
        )
    opens = (
        (raw.count(b"{") + raw.count(b"["))
        if isinstance(raw, bytes | bytearray)
        else (raw.count("{") + raw.count("["))
    )
    if opens > MAX_DEPTH and nesting_depth(raw) > MAX_DEPTH:
        raise ValidationError(
            "",
            MISSING,
            f"nests objects and arrays more than {MAX_DEPTH} levels deep",
            reason="json.depth",
            hint="an event nests 3 levels (envelope, payload, employer)",
        )


def nesting_depth(raw: bytes | str) -> int:
    """How deep objects and arrays nest in the JSON text `raw` (brackets in strings ignored).

    >>> nesting_depth(b'{"a": [1, {"b": "[["}]}')
    3
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _event_of(loaded: Any, raw: bytes | str | dict[str, Any], registry: Registry) -> Event:
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
