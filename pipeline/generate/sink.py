"""One output file and the counters its part of the manifest is made from."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.generate.records import _Kind
    from pipeline.generate.world import _World


class _Sink:
    """One output file and its counters."""

    def __init__(self, path: Path, role: str) -> None:
        self.path = path
        self.role = role
        self.handle = path.open("wb", buffering=1 << 20)
        self.lines = 0
        self.kinds: Counter[str] = Counter()
        self.bad_kinds: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.by_type: Counter[tuple[str, str]] = Counter()

    def write(self, line: bytes, kind: _Kind, world: _World) -> None:
        self.handle.write(line)
        self.handle.write(b"\n")
        self.lines += 1
        self.kinds[kind.name] += 1
        if kind.name == "bad":
            self.bad_kinds[kind.bad] += 1
            self.reasons[world.reason_of(line)] += 1
        elif kind.name == "conflicting_resend":
            self.reasons["event_id.conflict"] += 1
        if kind.counts_as_event:
            self.by_type[(kind.source, kind.type)] += 1
        if kind.late:
            self.kinds["late_arrival"] += 1

    def close(self) -> None:
        self.handle.close()

    def summary(self) -> dict[str, Any]:
        events = sum(self.by_type.values())
        return {
            "path": self.path.name,
            "role": self.role,
            "lines": self.lines,
            "parsed_ok": self.lines - self.kinds["bad"],
            "events": events,
            "by_source": dict(sorted(_by_source(self.by_type).items())),
            "by_type": {f"{s}/{t}": n for (s, t), n in sorted(self.by_type.items())},
            "dirt": {
                "exact_resend": self.kinds["exact_resend"],
                "conflicting_resend": self.kinds["conflicting_resend"],
                "correction": self.kinds["correction"],
                "retraction": self.kinds["retraction"],
                "late_arrival": self.kinds["late_arrival"],
                "bad": self.kinds["bad"],
                "bad_by_kind": dict(sorted(self.bad_kinds.items())),
            },
            "dead_letter_reasons": dict(sorted(self.reasons.items())),
        }


def _by_source(by_type: Counter[tuple[str, str]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (source, _), n in by_type.items():
        out[source] += n
    return out
