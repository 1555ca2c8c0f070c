"""Event contracts, the unit registry, the cell table and the fold: pure, no Kafka."""

from contracts.errors import ContractError, ValidationError
from contracts.events import SCHEMA_VERSION, SOURCES, TYPES, Event, parse_event, upcast
from contracts.industry import Industry, parse_industry, row_of_division
from contracts.payloads import Employer, Project
from contracts.registry import Registry, Unit
from contracts.uscc import make_uscc, uscc_check_char, validate_uscc

__all__ = [
    # errors
    "ContractError", "ValidationError",
    # codes
    "validate_uscc", "uscc_check_char", "make_uscc",
    "Industry", "parse_industry", "row_of_division",
    # units
    "Registry", "Unit",
    # events
    "SCHEMA_VERSION", "SOURCES", "TYPES", "Event", "parse_event", "upcast", "Employer", "Project",
]
