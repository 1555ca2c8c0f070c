"""Dead letters for records the stream rejects: the same JSON shape file ingest writes.

{"id", "original", "file", "line", "reason", "message", "field", "rejected_at",
"origin": "stream", "topic", "partition", "offset"}; `original` is the record's
bytes as text, or base64 with "original_encoding": "base64" when not UTF-8.
`streams/` may not import `pipeline/`, so the shape is repeated here.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from contracts.calendar import CST
from contracts.errors import ValidationError

__all__ = ["dead_letter_id", "dead_letter_record"]


def dead_letter_id(topic: str, partition: int, offset: int, original: bytes) -> str:
    """Stable per input record, so a record dead-lettered twice (after a crash) is listed once."""
    digest = hashlib.sha256(f"{topic}\0{partition}\0{offset}\0".encode())
    digest.update(original)
    return digest.hexdigest()[:24]


def dead_letter_record(original: bytes, topic: str, partition: int, offset: int,
                       err: ValidationError, *, rejected_at: datetime | None = None
                       ) -> dict[str, Any]:
    """The dead-letter value for the record at (`topic`, `partition`, `offset`)."""
    record: dict[str, Any] = {"id": dead_letter_id(topic, partition, offset, original)}
    try:
        record["original"] = original.decode("utf-8")
    except UnicodeDecodeError:
        record["original"] = base64.b64encode(original).decode("ascii")
        record["original_encoding"] = "base64"
    record.update({
        "file": None,
        "line": None,
        "reason": err.reason,
        "message": str(err),
        "field": err.field,
        "rejected_at": (rejected_at or datetime.now(CST)).astimezone(CST).isoformat(
            timespec="seconds"),
        "origin": "stream",
        "topic": topic,
        "partition": partition,
        "offset": offset,
    })
    return record
