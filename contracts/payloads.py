"""Payload models of every event type (SPEC 5.2), each declared once with its field parsers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from contracts import _parse as p
from contracts.errors import ValidationError
from contracts.fields import Field, model
from contracts.objects import (
    AMOUNT,
    CASE_ID,
    EMPLOYER,
    LEAD_ID,
    NEW_FORM,
    PROJECT,
    WORKERS,
    Employer,
    Project,
    parse_employer,
)

__all__ = [
    "Payload",
    "EmployerInspected",
    "ArrearsVerified",
    "ArrearsResolved",
    "OrderIssued",
    "CaseTransferred",
    "CaseFiled",
    "EmployerPublished",
    "EmployerBlacklisted",
    "DisputeResolved",
    "ExecutionConcluded",
    "LeadReceived",
    "LeadMerged",
    "LeadVerified",
    "LeadClosed",
    "EventRetracted",
    "parse_payload",
    "CASE_NO",
]

#: A court case number: (2024)苏0412执1234号, full-width or ASCII parentheses; the
#: court code after the province character has 0, 2 or 4 digits (high, intermediate,
#: basic court); 执 may carry a suffix (执恢 resumed, 执异 objection, 执复 review ...).
#: Digits are ASCII ones: `\d` would take full-width ２０２４ too.
CASE_NO = re.compile(
    r"[(（](?P<year>[0-9]{4})[)）]"
    r"(?P<province>[京津冀晋蒙内辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川黔贵云滇藏陕甘青宁新兵])"
    r"(?P<court>(?:[0-9]{2}){0,2})"
    r"执(?P<suffix>[恢异复监协外保他]?)(?P<number>[0-9]+)号"
)


def _enum(*allowed: str) -> Callable[[Any, str], str]:
    return lambda value, field: p.enum(value, field, allowed)


def _case_no(value: Any, field: str) -> str:
    p.text(value, field, p.MAX_ID)
    if CASE_NO.fullmatch(value) is None:
        raise ValidationError(
            field,
            value,
            "not a court execution case number",
            reason="case_no.format",
            hint='expected e.g. "(2024)苏0412执1234号" or "（2024）苏0412执恢12号"',
        )
    return str(value)


class Payload:
    """Base of the payload models: `FIELDS` declares the JSON shape once."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[Field, ...]] = ()

    def check(self, field: str) -> None:
        """Rules across fields; raise ValidationError. None by default."""


@dataclass(frozen=True, slots=True)
class EmployerInspected(Payload):
    employer: Employer
    project: Project | None
    workers: int
    migrant_workers: int
    method: str
    FIELDS = (
        EMPLOYER,
        PROJECT,
        WORKERS,
        Field("migrant_workers", p.count),
        Field("method", _enum("onsite", "online", "complaint")),
    )

    def check(self, field: str) -> None:
        if self.migrant_workers > self.workers:
            raise ValidationError(
                f"{field}.migrant_workers",
                self.migrant_workers,
                f"cannot exceed workers ({self.workers})",
                reason="migrant_workers.exceeds_workers",
                hint="migrant workers are counted among the workers",
            )


@dataclass(frozen=True, slots=True)
class ArrearsVerified(Payload):
    """Arrears found and verified (查实); `amount_fen` in fen."""

    case_id: str
    employer: Employer
    project: Project | None
    workers: int
    amount_fen: int
    FIELDS = (CASE_ID, EMPLOYER, PROJECT, WORKERS, AMOUNT)


@dataclass(frozen=True, slots=True)
class ArrearsResolved(Payload):
    case_id: str
    employer: Employer
    project: Project | None
    workers: int
    amount_fen: int
    channel: str
    new_employment_form: bool
    FIELDS = (
        CASE_ID,
        EMPLOYER,
        PROJECT,
        WORKERS,
        AMOUNT,
        Field("channel", _enum("inspection", "industry_regulator")),
        NEW_FORM,
    )


@dataclass(frozen=True, slots=True)
class OrderIssued(Payload):
    case_id: str
    employer: Employer
    kind: str
    document_no: str
    FIELDS = (
        CASE_ID,
        EMPLOYER,
        Field("kind", _enum("rectification", "handling_decision", "penalty_decision")),
        Field("document_no", p.ident),
    )


@dataclass(frozen=True, slots=True)
class CaseTransferred(Payload):
    case_id: str
    employer: Employer
    FIELDS = (CASE_ID, EMPLOYER)


@dataclass(frozen=True, slots=True)
class CaseFiled(Payload):
    case_id: str
    employer: Employer
    FIELDS = (CASE_ID, EMPLOYER)


@dataclass(frozen=True, slots=True)
class EmployerPublished(Payload):
    employer: Employer
    FIELDS = (EMPLOYER,)


@dataclass(frozen=True, slots=True)
class EmployerBlacklisted(Payload):
    employer: Employer
    listing_no: str
    FIELDS = (EMPLOYER, Field("listing_no", p.ident))


@dataclass(frozen=True, slots=True)
class DisputeResolved(Payload):
    case_no: str
    employer: Employer
    workers: int
    amount_fen: int
    channel: str
    new_employment_form: bool
    FIELDS = (
        Field("case_no", p.ident),
        EMPLOYER,
        WORKERS,
        AMOUNT,
        Field("channel", _enum("mediation", "arbitration")),
        NEW_FORM,
    )


@dataclass(frozen=True, slots=True)
class ExecutionConcluded(Payload):
    case_no: str
    employer: Employer
    workers: int
    amount_fen: int
    new_employment_form: bool
    FIELDS = (Field("case_no", _case_no), EMPLOYER, WORKERS, AMOUNT, NEW_FORM)


@dataclass(frozen=True, slots=True)
class LeadReceived(Payload):
    lead_id: str
    intake: str
    employer: Employer | None
    project: Project | None
    workers_claimed: int
    amount_claimed_fen: int
    FIELDS = (
        LEAD_ID,
        Field("intake", _enum("national_platform", "hotline", "petition", "centralized_reception")),
        Field("employer", parse_employer, required=False),
        PROJECT,
        Field("workers_claimed", p.count),
        Field("amount_claimed", p.fen, attr="amount_claimed_fen"),
    )


@dataclass(frozen=True, slots=True)
class LeadMerged(Payload):
    """A duplicate complaint folded into another lead."""

    lead_id: str
    into_lead_id: str
    FIELDS = (LEAD_ID, Field("into_lead_id", p.ident))

    def check(self, field: str) -> None:
        if self.into_lead_id == self.lead_id:
            raise ValidationError(
                f"{field}.into_lead_id",
                self.into_lead_id,
                "a lead cannot be merged into itself",
                reason="into_lead_id.self",
            )


@dataclass(frozen=True, slots=True)
class LeadVerified(Payload):
    lead_id: str
    verdict: str
    FIELDS = (
        LEAD_ID,
        Field("verdict", _enum("substantiated", "unsubstantiated", "contract_payment_dispute")),
    )


@dataclass(frozen=True, slots=True)
class LeadClosed(Payload):
    lead_id: str
    FIELDS = (LEAD_ID,)


@dataclass(frozen=True, slots=True)
class EventRetracted(Payload):
    """Removes an earlier event's contribution (any source)."""

    retracts: str
    reason: str
    FIELDS = (Field("retracts", p.ident), Field("reason", p.text))


P = TypeVar("P", bound=Payload)


def parse_payload(cls: type[P], value: Any, field: str = "payload") -> P:
    """Parse and check one payload object as `cls`."""
    payload = model(cls, cls.FIELDS, value, field)
    payload.check(field)
    return payload
