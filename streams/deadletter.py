"""Dead letters for records the stream rejects: the same JSON shape file ingest writes.

{"id", "original", "file", "line", "reason", "message", "field", "rejected_at",
"origin": "stream", "topic", "partition", "offset"}: the shape of
contracts/deadletter.py, with the stream's own stable id.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from contracts.deadletter import dead_letter_value
from contracts.errors import ValidationError

__all__ = ["dead_letter_id", "dead_letter_record", "dead_letter_message"]


def dead_letter_id(topic: str, partition: int, offset: int, original: bytes) -> str:
    """Stable per input record, so a record dead-lettered twice (after a crash) is listed once."""
    digest = hashlib.sha256(f"{topic}\0{partition}\0{offset}\0".encode())
    digest.update(original)
    return digest.hexdigest()[:24]


def dead_letter_record(
    original: bytes,
    topic: str,
    partition: int,
    offset: int,
    err: ValidationError,
    *,
    rejected_at: datetime | None = None,
) -> dict[str, Any]:
    """The dead-letter value for the record at (`topic`, `partition`, `offset`)."""
    return dead_letter_value(
        dead_letter_id(topic, partition, offset, original),
        original,
        err,
        origin="stream",
        rejected_at=rejected_at,
        topic=topic,
        partition=partition,
        offset=offset,
    )


def dead_letter_message(
    original: bytes, topic: str, partition: int, offset: int, err: ValidationError
) -> tuple[bytes, bytes]:
    """The dead-letter topic's (key, value) for the record: its id, and the record as JSON."""
    record = dead_letter_record(original, topic, partition, offset, err)
    return record["id"].encode(), json.dumps(record, ensure_ascii=False).encode("utf-8")
