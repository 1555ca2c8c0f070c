"""Event contracts, the unit registry, the cell table and the fold: pure, no Kafka."""

from contracts.calendar import Campaign, load_campaign
from contracts.cells import (
    AUX,
    CELL_BY_ID,
    CELLS,
    COLUMNS,
    ITEMS,
    ROWS,
    Agg,
    Cell,
    Column,
    Measure,
    Row,
)
from contracts.errors import ContractError, ValidationError
from contracts.events import SCHEMA_VERSION, SOURCES, TYPES, Event, parse_event, upcast
from contracts.fold import Contribution, contributions, rollup, tally
from contracts.industry import Industry, parse_industry, row_of_division
from contracts.ledger import Ledger, Outcome
from contracts.objects import Employer, Project
from contracts.registry import Registry, Unit
from contracts.uscc import make_uscc, uscc_check_char, validate_uscc

__all__ = [
    # errors
    "ContractError",
    "ValidationError",
    # codes
    "validate_uscc",
    "uscc_check_char",
    "make_uscc",
    "Industry",
    "parse_industry",
    "row_of_division",
    # units
    "Registry",
    "Unit",
    # events
    "SCHEMA_VERSION",
    "SOURCES",
    "TYPES",
    "Event",
    "parse_event",
    "upcast",
    "Employer",
    "Project",
    # the cell table, the fold and the ledger
    "ROWS",
    "COLUMNS",
    "ITEMS",
    "AUX",
    "CELLS",
    "CELL_BY_ID",
    "Agg",
    "Cell",
    "Column",
    "Measure",
    "Row",
    "Contribution",
    "contributions",
    "tally",
    "rollup",
    "Ledger",
    "Outcome",
    # the campaign calendar
    "Campaign",
    "load_campaign",
]
