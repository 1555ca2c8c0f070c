"""JSON records as the contracts read them: limits, the strict decoder and its fast path,
the canonical form and the content hash. Knows nothing of events; `contracts.events` uses it.

Size: the fast paths sit beside the strict code they must agree with (tests/contracts/
test_fast_paths.py holds each to it), so a reader sees both at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import orjson

from contracts.errors import MISSING, ValidationError

__all__ = [
    "CANONICAL",
    "DECODER",
    "MAX_DEPTH",
    "MAX_RECORD_BYTES",
    "canonical_bytes",
    "canonical_json",
    "check_limits",
    "decode",
    "event_json",
    "nesting_depth",
    "quick_load",
    "sha256_of",
    "strict_load",
]

#: The largest record that may be an event (a real one is under 2 kB): `record.too_large`.
MAX_RECORD_BYTES = 64 * 1024
#: The deepest nesting of objects and arrays an event may have (a real one has 3): `json.depth`.
MAX_DEPTH = 16

#: json.dumps with options builds this encoder on every call; one shared instance saves
#: ~1 µs an event and gives the same text.
CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no white space: equal JSON values give equal text."""
    return CANONICAL.encode(value)


def _event_json_encoder() -> Callable[[dict[str, Any]], str]:
    """canonical_json for a parsed event's object, ~1 µs faster: the C encoder that
    `CANONICAL.encode` builds on every call, built once and without the cycle check (a
    parsed event is a tree). The same text: tests/contracts/test_fast_paths.py checks it."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python built without the _json accelerator
        return canonical_json
    encode = make(
        None,
        CANONICAL.default,
        json.encoder.encode_basestring,
        None,
        CANONICAL.key_separator,
        CANONICAL.item_separator,
        True,
        False,
        True,
    )
    return lambda value: "".join(encode(value, 0))


event_json = _event_json_encoder()


def sha256_of(raw: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(raw)).hexdigest()


def canonical_bytes(raw: dict[str, Any]) -> bytes:
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
        return event_json(raw).encode()


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
DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def decode(text: str) -> Any:
    """`DECODER.decode(text)`. A record with no white space around its value (every line
    the pipeline writes) skips decode()'s two Python frames and two white-space matches:
    ~0.4 µs an event. Anything else takes decode() itself, so errors read as before."""
    try:
        # scan_once is set by JSONDecoder.__init__; typeshed does not declare it
        value, end = DECODER.scan_once(text, 0)  # type: ignore[attr-defined]
    except StopIteration:  # white space first, or no value at all
        return DECODER.decode(text)
    return value if end == len(text) else DECODER.decode(text)


def quick_load(raw: bytes) -> dict[str, Any] | None:
    """What the strict decoder makes of a record with no escapes, in a third of its time
    (orjson); None for anything else, which only the strict decoder may read.

    orjson keeps the last of a repeated key where the strict decoder refuses the record, so
    the object is written out again and compared, white space left out of both: with no
    escape in the record, each string comes back as it went in, and a repeated key or a
    long-winded number makes the record longer than what comes back. White space between
    tokens (json.dumps's default ", " and ": ", as many source systems write) is all that
    may differ. orjson also reads an integer past 2**64 as a float (which it may write
    longer than it was read); no valid event holds a float, so parse_event reads any
    record it rejects again with the strict decoder, and its errors and answers are those
    of the strict one. tests/contracts/test_fast_paths.py checks the two agree.
    """
    if raw[:1] != b"{" or b"\\" in raw:
        return None
    try:
        value: dict[str, Any] = orjson.loads(raw)  # a "{" first: an object, if anything
    except orjson.JSONDecodeError:
        return None
    written = orjson.dumps(value)
    if len(written) == len(raw) or len(written) - _blanks(written) == len(raw) - _blanks(raw):
        return value
    return None


def _blanks(text: bytes) -> int:
    """The JSON white space in `text` (a string holds no tab, newline or return unescaped)."""
    return text.count(b" ") + text.count(b"\n") + text.count(b"\t") + text.count(b"\r")


def strict_load(raw: bytes | str | dict[str, Any]) -> Any:
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
        return decode(raw)
    except ValueError as err:  # ValidationError (duplicate keys) is not a ValueError
        raise ValidationError(
            "",
            MISSING,
            f"not valid JSON: {err}",
            reason="json.invalid",
            hint="each line must hold one complete JSON object",
        ) from None


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
