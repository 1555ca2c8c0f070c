"""The dead-letter record: one shape for every path that rejects a record (ingest, streams).

{"id", "original", ["original_encoding": "base64"], "file", "line", "reason",
"message", "field", "rejected_at", "origin", [where it was read: "topic",
"partition", "offset"]}. `original` keeps the bytes as text when they are valid
UTF-8, else base64, so nothing of them is lost; a record over MAX_ORIGINAL bytes keeps
its first MAX_ORIGINAL bytes, with `"original_truncated": true`, `"original_size"` and
`"original_sha256"` of the whole, so every dead letter fits the topic (Kafka's 1 MiB).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from contracts.clock import CST
from contracts.errors import ValidationError

__all__ = ["MAX_ORIGINAL", "dead_letter_value", "record_json"]

#: The most bytes of a rejected record a dead letter keeps.
MAX_ORIGINAL = 16 * 1024


def dead_letter_value(
    letter_id: str,
    original: bytes,
    err: ValidationError,
    *,
    origin: str,
    file: str | None = None,
    line: int | None = None,
    rejected_at: datetime | None = None,
    **where: Any,
) -> dict[str, Any]:
    """The JSON value of a dead letter; `where` adds e.g. topic, partition and offset."""
    record: dict[str, Any] = {"id": letter_id}
    kept = original
    if len(original) > MAX_ORIGINAL:
        kept = original[:MAX_ORIGINAL]
        # A cut inside a UTF-8 sequence would make the prefix of a text record base64.
        for trim in range(4):
            try:
                kept[: len(kept) - trim].decode("utf-8")
            except UnicodeDecodeError:
                continue
            kept = kept[: len(kept) - trim]
            break
    try:
        record["original"] = kept.decode("utf-8")
    except UnicodeDecodeError:
        record["original"] = base64.b64encode(kept).decode("ascii")
        record["original_encoding"] = "base64"
    if kept is not original:
        record["original_truncated"] = True
        record["original_size"] = len(original)
        record["original_sha256"] = hashlib.sha256(original).hexdigest()
    record.update(
        {
            "file": file,
            "line": line,
            "reason": err.reason,
            "message": str(err),
            "field": err.field,
            "rejected_at": (rejected_at or datetime.now(CST))
            .astimezone(CST)
            .isoformat(timespec="seconds"),
            "origin": origin,
            **where,
        }
    )
    return record


def record_json(value: Any, **options: Any) -> str:
    """A record as JSON text that has a UTF-8 form: non-ASCII text kept as it is, unless a
    string holds an unpaired surrogate (a record rejected as `<field>.encoding` does),
    which is then written as its JSON escape, the way it arrived."""
    text = json.dumps(value, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, **options)
    return text
