"""The graded expectations of SPEC 7, declared once as data: id, grade, batch, what it checks.

The suites (suites.py), the summary table, check-result.json and the tests all read this
table; an expectation's id is what the report, the Data Docs and the gate name it by.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CRITICAL", "WARNING", "GRADES", "Grade", "Check", "CHECKS", "CHECK_BY_ID", "BATCHES"]


class Grade(StrEnum):
    """How much an expectation's failure weighs (a str: JSON and comparisons see the text)."""

    CRITICAL = "critical"  # the snapshot may not be submitted
    WARNING = "warning"  # it may, and the report shows it


CRITICAL, WARNING = Grade.CRITICAL, Grade.WARNING
GRADES = tuple(Grade)

#: The batches the suites run on, in run order. `cells_schema` gates `cells`: when the
#: schema is wrong, the arithmetic on the figures would only report noise.
BATCHES = ("cells_schema", "cells", "changes", "events", "dead_letters")


@dataclass(frozen=True)
class Check:
    id: str
    grade: Grade
    batch: str
    title: str


CHECKS: tuple[Check, ...] = (
    # schema and types of the snapshot
    Check(
        "snapshot.columns",
        CRITICAL,
        "cells_schema",
        "cells.parquet has exactly the columns unit, scope, cell, value",
    ),
    Check(
        "snapshot.value_type",
        CRITICAL,
        "cells_schema",
        "value is int64 (exact: fen, persons, counts), never null or float",
    ),
    Check("snapshot.scope_values", CRITICAL, "cells_schema", "scope is own or rollup"),
    Check(
        "snapshot.cell_ids",
        CRITICAL,
        "cells_schema",
        "every cell id is declared in contracts/cells.py",
    ),
    Check("snapshot.unit_codes", CRITICAL, "cells_schema", "every unit is in the registry"),
    Check("snapshot.unique_keys", CRITICAL, "cells_schema", "one value per (unit, scope, cell)"),
    # figures
    Check(
        "snapshot.every_unit_present",
        CRITICAL,
        "cells",
        "every registry unit appears with every cell, own and rollup",
    ),
    Check("snapshot.no_negatives", CRITICAL, "cells", "no value is negative"),
    Check(
        "snapshot.total_is_sum_of_rows",
        CRITICAL,
        "cells",
        "合计 equals the exact sum of rows 2-5 in every column",
    ),
    Check(
        "snapshot.migrant_within_workers",
        CRITICAL,
        "cells",
        "col 3 (农民工) <= col 2 (涉及职工) in every row",
    ),
    Check(
        "snapshot.channel_items_within_resolved",
        CRITICAL,
        "cells",
        "items 3+4+5 (mediation/arbitration, court, regulators) <= cols 4, 5, 6",
    ),
    Check(
        "snapshot.arrears_projects_within_inspected",
        CRITICAL,
        "cells",
        "item 1: projects with verified arrears <= projects inspected (gov and SOE)",
    ),
    Check(
        "snapshot.rollup_is_own_plus_children",
        CRITICAL,
        "cells",
        "a unit's rollup equals its own figures plus its children's rollups",
    ),
    Check(
        "snapshot.no_silent_units",
        WARNING,
        "cells",
        "every reporting unit under the report's unit has figures of its own",
    ),
    Check(
        "snapshot.filings_within_transfers",
        WARNING,
        "cells",
        "col 11 police filings <= col 10 transfers",
    ),
    Check(
        "snapshot.amount_per_worker_plausible",
        WARNING,
        "cells",
        "amount per worker is plausible (catches yuan/fen mix-ups)",
    ),
    Check(
        "snapshot.no_open_cases",
        WARNING,
        "cells",
        "verified arrears cases are all resolved (due before the Spring Festival)",
    ),
    # against the previous snapshot
    Check(
        "snapshot.no_fall_against_previous",
        WARNING,
        "changes",
        "cumulative figures do not fall against the previous snapshot (retractions named)",
    ),
    # the archived events behind the snapshot
    # A conflicting resend (same event_id, other content) can reach the log when a
    # source produces straight to Kafka or resends in a later file; the ledger keeps
    # the first and the streams dead-letter the rest, so the figures are sound: warn.
    # Effective events are unique by construction (the Ledger's), so this looks at each
    # event_id's first row and the resends the Ledger refuses as conflicts.
    Check(
        "events.event_id_unique",
        WARNING,
        "events",
        "event_id is not resent with other content (conflicting resends listed)",
    ),
    # Ids are scoped by unit (SPEC 5.1): the same event_id under two units is two events,
    # and a correction or retraction naming another unit's event corrects nothing of it.
    # Both are sound for the figures but likely mistakes at the source: warn.
    Check(
        "events.event_id_one_unit",
        WARNING,
        "events",
        "each event_id is used by one unit (ids reused under two units listed: two events)",
    ),
    Check(
        "events.targets_in_own_unit",
        WARNING,
        "events",
        "corrections and retractions name events of their own unit (others listed)",
    ),
    Check(
        "events.valid_credit_codes",
        CRITICAL,
        "events",
        "every employer id is a valid unified social credit code",
    ),
    # GB 32100 rejects a code only on its check character (ingest does); a wrong GB 11714
    # digit of the organisation code inside it is found on real codes issued before the
    # standard's tightening, so the employer's figures count and the events are named.
    Check(
        "events.org_code_check_digits",
        WARNING,
        "events",
        "each credit code's embedded organisation code has its GB 11714 check digit "
        "(events listed)",
    ),
    Check("events.valid_unit_codes", CRITICAL, "events", "every event's unit is in the registry"),
    Check(
        "events.feeds_alive",
        CRITICAL,
        "events",
        "each source system sent events within the configured time before the cutoff",
    ),
    # dead letters
    Check(
        "dead_letters.open_warning",
        WARNING,
        "dead_letters",
        "unresolved dead letters for the cutoff at most the warning threshold",
    ),
    Check(
        "dead_letters.open_critical",
        CRITICAL,
        "dead_letters",
        "unresolved dead letters for the cutoff at most the critical threshold",
    ),
)

CHECK_BY_ID: dict[str, Check] = {c.id: c for c in CHECKS}
assert len(CHECK_BY_ID) == len(CHECKS), "check ids must be unique"
