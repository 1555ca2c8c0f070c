"""A check's outcome: one record per expectation, and the verdict the submission gate reads."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from contracts.quality.catalogue import CRITICAL, WARNING

__all__ = [
    "PASSED",
    "FAILED",
    "ERROR",
    "SKIPPED",
    "Status",
    "Outcome",
    "CheckResult",
    "RESULT_FORMAT",
]

RESULT_FORMAT = "arrears-check-result/1"


class Status(StrEnum):
    """One expectation's verdict (a str: JSON and comparisons see the text)."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # counts as failed
    SKIPPED = "skipped"  # not run: why in the note


PASSED, FAILED, ERROR, SKIPPED = Status.PASSED, Status.FAILED, Status.ERROR, Status.SKIPPED


@dataclass
class Outcome:
    """One expectation's result. `offending` lists units/cells (or events); `evidence`
    names the events behind them where that helps (case ids, retractions, rows)."""

    check: str
    grade: str
    title: str
    expectation_type: str
    status: str  # passed | failed | error (counts as failed) | skipped (not run: why in note)
    observed: str = ""
    offending_count: int = 0
    offending: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.status in (FAILED, ERROR)


@dataclass
class CheckResult:
    """Everything `arrears check` found for one snapshot."""

    snapshot: str
    snapshot_id: str | None
    cutoff: str
    unit: str
    final_cutoff: str
    is_final: bool
    outcomes: list[Outcome]
    cells_sha256: str | None = None
    previous: str | None = None
    archive: str | None = None
    data_docs: str | None = None
    checked_at: str = ""
    seconds: float = 0.0
    event_rows: int | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    #: per source system: its last event before the cutoff and how long it has been silent
    freshness: list[dict[str, Any]] = field(default_factory=list)

    @property
    def critical_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed and o.grade == CRITICAL]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed and o.grade == WARNING]

    @property
    def passed(self) -> bool:
        """The gate: no critical expectation failed (warnings do not block)."""
        return not self.critical_failures

    def outcome(self, check: str) -> Outcome:
        for o in self.outcomes:
            if o.check == check:
                return o
        raise KeyError(f"no outcome for check {check!r}")

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["format"] = RESULT_FORMAT
        body["passed"] = self.passed
        body["critical_failures"] = [o.check for o in self.critical_failures]
        body["warnings"] = [o.check for o in self.warnings]
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> CheckResult:
        """The result `to_json` wrote (check-result.json); raises ValueError if it is not one."""
        if body.get("format") != RESULT_FORMAT:
            raise ValueError(f"not a check result ({RESULT_FORMAT}): format {body.get('format')!r}")
        names = {f.name for f in fields(cls)}
        kept = {k: v for k, v in body.items() if k in names}
        kept["outcomes"] = [Outcome(**o) for o in body.get("outcomes", [])]
        return cls(**kept)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2, default=str) + "\n"
