"""Small records: a line's kind, the pooled entities events refer to, the events sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

#: What a source's builder makes of one slot: (unit, payload, occurred epoch seconds).
Built: TypeAlias = tuple[str, dict[str, Any], int]
#: A builder of one event type at about a time; None when the pool it draws on is empty.
Builder: TypeAlias = Callable[[int], Built | None]


@dataclass(frozen=True, slots=True)
class Kind:
    """What a written line is, for the manifest's counts."""

    name: str  # clean, exact_resend, conflicting_resend, correction, retraction, bad
    source: str = ""
    type: str = ""
    late: bool = False
    bad: str = ""  # the bad kind (a key of BAD_KINDS) when name == "bad"

    @property
    def counts_as_event(self) -> bool:
        return self.name in ("clean", "correction", "retraction")


#: A line ready to write: (bytes without the newline, recorded epoch seconds, its kind).
Line: TypeAlias = tuple[bytes, int, Kind]


@dataclass(slots=True)
class Employer:
    """A pooled employer: the JSON object events carry and what sizes its figures."""

    obj: dict[str, str]  # the JSON object events carry
    row: str
    size: int
    migrant_share: float
    platform: bool


@dataclass(slots=True)
class Case:
    """An open arrears case, from its verification until it is resolved or transferred."""

    case_id: str
    unit: str
    employer: Employer
    project: dict[str, Any] | None
    workers: int
    amount_fen: int
    at: int  # epoch seconds of the verification (of the transfer, once transferred)


@dataclass(slots=True)
class Lead:
    """A complaint lead waiting for its next step (verification, then closing)."""

    lead_id: str
    unit: str
    at: int


@dataclass(slots=True)
class Sent:
    """An event already written, kept for resends, corrections and retractions."""

    obj: dict[str, Any]
    occurred: int
    recorded: int
    used: bool = False
