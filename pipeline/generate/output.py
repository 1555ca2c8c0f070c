"""The output files and the manifest counted from them: what was generated, per file and in all."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from contracts.calendar import Campaign
from contracts.errors import ValidationError
from contracts.events import parse_event
from contracts.registry import Registry
from pipeline.generate.options import GenerateOptions
from pipeline.generate.records import Kind
from pipeline.generate.state import State

MANIFEST_FORMAT = "arrears-generate-manifest/1"


class Sink:
    """One output file and the counters its part of the manifest is made from."""

    def __init__(self, path: Path, role: str, registry: Registry) -> None:
        self.path = path
        self.role = role
        self.registry = registry  # to ask the contracts why a bad line is rejected
        self.handle = path.open("wb", buffering=1 << 20)
        self.lines = 0
        self.kinds: Counter[str] = Counter()
        self.bad_kinds: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.by_type: Counter[tuple[str, str]] = Counter()

    def write(self, line: bytes, kind: Kind) -> None:
        self.handle.write(line)
        self.handle.write(b"\n")
        self.lines += 1
        self.kinds[kind.name] += 1
        if kind.name == "bad":
            self.bad_kinds[kind.bad] += 1
            self.reasons[reason_of(line, self.registry)] += 1
        elif kind.name == "conflicting_resend":
            self.reasons["event_id.conflict"] += 1
        if kind.counts_as_event:
            self.by_type[(kind.source, kind.type)] += 1
        if kind.late:
            self.kinds["late_arrival"] += 1

    def close(self) -> None:
        self.handle.close()

    def summary(self) -> dict[str, Any]:
        """This file's part of the manifest."""
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


def reason_of(line: bytes, registry: Registry) -> str:
    """The dead-letter reason the contracts give for a bad line."""
    try:
        parse_event(line, registry)
    except ValidationError as err:
        return err.reason
    return "accepted (generator bug)"


def build_manifest(
    options: GenerateOptions, campaign: Campaign, state: State, files: list[Sink]
) -> dict[str, Any]:
    """The manifest of a run: what was asked for, the totals, and each file's part."""
    parts = [sink.summary() for sink in files]
    total: dict[str, Any] = {"lines": 0, "parsed_ok": 0, "events": 0}
    for key in total:
        total[key] = sum(p[key] for p in parts)
    merged: dict[str, Counter[str]] = {
        k: Counter() for k in ("by_source", "by_type", "bad_by_kind", "reasons")
    }
    dirt: Counter[str] = Counter()
    for p in parts:
        merged["by_source"].update(p["by_source"])
        merged["by_type"].update(p["by_type"])
        merged["bad_by_kind"].update(p["dirt"]["bad_by_kind"])
        merged["reasons"].update(p["dead_letter_reasons"])
        dirt.update({k: v for k, v in p["dirt"].items() if isinstance(v, int)})
    return {
        "format": MANIFEST_FORMAT,
        "generator": {
            "unit": options.unit,
            "events": options.events,
            "seed": options.seed,
            "split_at": options.split_at.isoformat() if options.split_at else None,
            "campaign": campaign.id,
            "window": [campaign.window_start.isoformat(), campaign.window_end.isoformat()],
            "late_arrival_means": "an event (clean, correction or retraction) with occurred_at <= "
            f"{state.progress_cutoff.isoformat()} < recorded_at",
            "units": [u.code for u in state.units],
        },
        "totals": {
            **total,
            "by_source": dict(sorted(merged["by_source"].items())),
            "by_type": dict(sorted(merged["by_type"].items())),
            "dirt": {
                **{
                    k: dirt[k]
                    for k in (
                        "exact_resend",
                        "conflicting_resend",
                        "correction",
                        "retraction",
                        "late_arrival",
                        "bad",
                    )
                },
                "bad_by_kind": dict(sorted(merged["bad_by_kind"].items())),
            },
            "dead_letter_reasons": dict(sorted(merged["reasons"].items())),
        },
        "files": parts,
    }


def _by_source(by_type: Counter[tuple[str, str]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (source, _), n in by_type.items():
        out[source] += n
    return out
