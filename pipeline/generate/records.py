"""The generator's small records: a line's kind and the pooled entities events refer to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class _Kind:
    name: str  # clean, exact_resend, conflicting_resend, correction, ...
    source: str = ""
    type: str = ""
    late: bool = False
    bad: str = ""

    @property
    def counts_as_event(self) -> bool:
        return self.name in ("clean", "correction", "retraction")


@dataclass(slots=True)
class _Employer:
    obj: dict[str, str]  # the JSON object events carry
    row: str
    size: int
    migrant_share: float
    platform: bool


@dataclass(slots=True)
class _Case:
    case_id: str
    unit: str
    employer: _Employer
    project: dict[str, Any] | None
    workers: int
    amount_fen: int
    at: int  # epoch seconds of the verification


@dataclass(slots=True)
class _Lead:
    lead_id: str
    unit: str
    at: int


@dataclass(slots=True)
class _Sent:
    """An event already written, kept for resends, corrections and retractions."""

    obj: dict[str, Any]
    occurred: int
    recorded: int
    used: bool = False
