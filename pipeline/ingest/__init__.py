"""File ingest: route JSON Lines to the source topics, dead-letter the rest; and the dead
letters themselves (list, export, resubmit).

- `routing`: `Ingest`, the counting, duplicate and conflict rules, the file dead letters;
- `validators`: parsing and validating lines, in validator processes beside the router;
- `sink`: where records go (`ListSink` for tests, `KafkaSink`);
- `deadletters`: reading dead letters back with their status, selecting them;
- `resubmit`: exporting dead letters to fix, planning the resubmit of the fixed file.
"""

from __future__ import annotations

from pipeline.ingest.routing import (
    CONFLICT,
    Ingest,
    Summary,
    dead_letter_id,
    dead_letter_record,
    display_name,
    known_event,
    now_cst,
)
from pipeline.ingest.sink import Headers, KafkaSink, ListSink, ProduceError, Sink
from pipeline.ingest.validators import ValidatorDied, default_validators

__all__ = [
    "CONFLICT",
    "Headers",
    "Ingest",
    "KafkaSink",
    "ListSink",
    "ProduceError",
    "Sink",
    "Summary",
    "ValidatorDied",
    "dead_letter_id",
    "dead_letter_record",
    "default_validators",
    "display_name",
    "known_event",
    "now_cst",
]
