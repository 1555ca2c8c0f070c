"""Offset vectors: which prefix of the log a snapshot or a replay reflects.

An offset vector maps topic -> partition -> the *next* offset (an exclusive end):
`{"arrears.inspection": {0: 120, 1: 98}}` means offsets 0..119 of partition 0 and
0..97 of partition 1. A partition that is absent counts as offset 0 (nothing read).

Text syntax (`--as-of`, `--to`):

    arrears.inspection:0=120,arrears.inspection:1=98,arrears.court:0=7

or the path of a JSON file holding `{"topic": {"partition": offset}}` (the
`offsets` of a snapshot's meta.json, or a whole meta.json, also works).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from infra.offsets import Offsets
from warehouse.errors import OffsetsError

__all__ = [
    "Offsets",
    "parse_offsets",
    "format_offsets",
    "offsets_to_json",
    "offsets_from_json",
    "OFFSETS_HELP",
]

OFFSETS_HELP = (
    "an offset vector: 'TOPIC:PARTITION=NEXT_OFFSET,...' (exclusive ends, e.g. "
    "'arrears.inspection:0=120,arrears.inspection:1=98'; partitions not named count as 0), "
    'or the path of a JSON file {"topic": {"partition": offset}} (a snapshot\'s meta.json works)'
)
_ITEM = re.compile(r"(?P<topic>[A-Za-z0-9._-]+):(?P<partition>[0-9]+)=(?P<offset>[0-9]+)")


def parse_offsets(text: str) -> Offsets:
    """Read an offset vector from its text form or from a JSON file.

    >>> parse_offsets("arrears.court:0=7,arrears.court:2=3")
    {'arrears.court': {0: 7, 2: 3}}
    """
    text = text.strip()
    path = Path(text)
    if text.endswith(".json") or (path.exists() and path.is_file()):
        return _from_file(path)
    out: Offsets = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = _ITEM.fullmatch(part)
        if m is None:
            raise OffsetsError(
                f"offset vector item {part!r} is not TOPIC:PARTITION=OFFSET "
                "(e.g. arrears.inspection:0=120); separate items with commas"
            )
        topic, partition = m["topic"], int(m["partition"])
        if partition in out.get(topic, {}):
            raise OffsetsError(f"offset vector names {topic}:{partition} twice")
        out.setdefault(topic, {})[partition] = int(m["offset"])
    if not out:
        raise OffsetsError(f"empty offset vector {text!r}; {OFFSETS_HELP}")
    return out


def _from_file(path: Path) -> Offsets:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OffsetsError(f"offset file {path} does not exist") from None
    except (OSError, ValueError) as err:
        raise OffsetsError(f"offset file {path} is not readable JSON: {err}") from None
    if isinstance(data, dict) and isinstance(data.get("offsets"), dict):
        data = data["offsets"]  # a snapshot's meta.json
    return offsets_from_json(data, where=str(path))


def offsets_from_json(data: object, where: str = "offsets") -> Offsets:
    """The JSON form ({"topic": {"0": 12}}) back to an `Offsets`, checked."""
    if not isinstance(data, dict):
        raise OffsetsError(f"{where}: expected an object {{topic: {{partition: offset}}}}")
    out: Offsets = {}
    for topic, parts in data.items():
        if not isinstance(parts, dict):
            raise OffsetsError(f"{where}: {topic!r} must map partitions to offsets")
        for partition, offset in parts.items():
            if (
                not str(partition).isdigit()
                or not isinstance(offset, int)
                or offset < 0
                or isinstance(offset, bool)
            ):
                raise OffsetsError(
                    f"{where}: {topic}:{partition}={offset!r} is not "
                    "a partition number with a non-negative whole offset"
                )
            out.setdefault(str(topic), {})[int(partition)] = offset
    return out


def offsets_to_json(offsets: Mapping[str, Mapping[int, int]]) -> dict[str, dict[str, int]]:
    """JSON-ready form with sorted topics and partitions (partition keys are strings)."""
    return {t: {str(p): int(offsets[t][p]) for p in sorted(offsets[t])} for t in sorted(offsets)}


def format_offsets(offsets: Mapping[str, Mapping[int, int]]) -> str:
    """The text form `parse_offsets` reads."""
    return ",".join(f"{t}:{p}={offsets[t][p]}" for t in sorted(offsets) for p in sorted(offsets[t]))


def total(offsets: Mapping[str, Mapping[int, int]]) -> int:
    return sum(sum(parts.values()) for parts in offsets.values())


def behind(end: Mapping[str, Mapping[int, int]], at: Mapping[str, Mapping[int, int]]) -> int:
    """How many records of the log `end` lie past the position `at` (a missing partition
    is at 0; a position past the end counts nothing)."""
    return sum(
        max(0, offset - at.get(topic, {}).get(partition, 0))
        for topic, parts in end.items()
        for partition, offset in parts.items()
    )


def restrict(offsets: Mapping[str, Mapping[int, int]], topics: Iterable[str]) -> Offsets:
    wanted = set(topics)
    return {t: dict(p) for t, p in offsets.items() if t in wanted}
