"""Data-quality contracts (SPEC 7): graded great-expectations suites on a snapshot and the
events behind it, Data Docs, and the verdict the submission gate reads.

Pure: nothing here knows Kafka or the snapshot directory layout; the command layer reads
the snapshot, the archive and the dead letters and hands them in as polars frames.
"""

from contracts.quality.catalogue import CHECK_BY_ID, CHECKS, CRITICAL, GRADES, WARNING, Check
from contracts.quality.config import (
    DEFAULT_QUALITY_CONFIG,
    QualityConfig,
    QualityConfigError,
    load_quality_config,
)
from contracts.quality.event_rows import LedgerAnswer
from contracts.quality.frames import ARCHIVE_COLUMNS, SnapshotInput
from contracts.quality.result import ERROR, FAILED, PASSED, SKIPPED, CheckResult, Outcome
from contracts.quality.runner import reporting_unit, run_check

__all__ = [
    "CHECKS",
    "CHECK_BY_ID",
    "Check",
    "CRITICAL",
    "WARNING",
    "GRADES",
    "QualityConfig",
    "QualityConfigError",
    "load_quality_config",
    "DEFAULT_QUALITY_CONFIG",
    "SnapshotInput",
    "LedgerAnswer",
    "ARCHIVE_COLUMNS",
    "CheckResult",
    "Outcome",
    "PASSED",
    "FAILED",
    "ERROR",
    "SKIPPED",
    "run_check",
    "reporting_unit",
]
