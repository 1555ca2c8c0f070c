"""The objects several payloads share: the employer, the project, and their common fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts import _parse as p
from contracts.fields import Field, recurring
from contracts.industry import Industry, parse_industry
from contracts.uscc import validate_uscc

__all__ = [
    "Employer",
    "Project",
    "parse_employer",
    "parse_project",
    "EMPLOYER",
    "PROJECT",
    "WORKERS",
    "AMOUNT",
    "CASE_ID",
    "NEW_FORM",
    "LEAD_ID",
]


@dataclass(frozen=True, slots=True)
class Employer:
    """The employer an event is about: `id` is a validated USCC."""

    id: str
    name: str
    industry: Industry


@dataclass(frozen=True, slots=True)
class Project:
    """An engineering construction project."""

    id: str
    name: str
    government_investment: bool
    soe: bool


def parse_employer(value: Any, field: str) -> Employer:
    return recurring(Employer, _EMPLOYER, value, field)


def parse_project(value: Any, field: str) -> Project:
    return recurring(Project, _PROJECT, value, field)


_EMPLOYER = (
    Field("id", lambda v, f: validate_uscc(v, field=f)),
    Field("name", p.text),
    Field("industry", lambda v, f: parse_industry(v, field=f)),
)
_PROJECT = (
    Field("id", p.ident),
    Field("name", p.text),
    Field("government_investment", p.boolean),
    Field("soe", p.boolean),
)
EMPLOYER = Field("employer", parse_employer)
PROJECT = Field("project", parse_project, required=False)
WORKERS = Field("workers", p.count)
AMOUNT = Field("amount", p.fen, attr="amount_fen")
CASE_ID = Field("case_id", p.ident)
NEW_FORM = Field("new_employment_form", p.boolean)
LEAD_ID = Field("lead_id", p.ident)
