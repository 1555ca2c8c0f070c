"""Our grades and names written into great-expectations' Data Docs pages, after GX wrote them.

GX knows success and failure only: a failed warning gets the red ✗ of a critical failure,
a suite whose only failures are warnings says "Failed" like one that stops the snapshot,
and a page of an in-memory (pandas) batch says "Data asset: None". Its renderers take
neither a grade nor a name for such a batch, so the written pages are edited, as
`contracts.quality.offline` edits their links: each failed warning's icon becomes a
warning sign, a warning-only suite says so (in its page's header and on the index), and
each page names what it validated (`describe_batches`: the snapshot id and cutoff).

>>> mark_docs(docs_dir, outcomes, describe_batches(meta, prev), runner.suite_of)  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

from contracts.quality.catalogue import CHECK_BY_ID
from contracts.quality.result import FAILED, Outcome

__all__ = ["WARNING_CLASS", "describe_batches", "mark_docs", "warning_only_suites"]

#: The class every warning mark carries, so a reader (or a test) finds them.
WARNING_CLASS = "arrears-warning"

_FAILED_ICON = re.compile(r'<i class="fas fa-times text-danger"\s*(aria-hidden="true"\s*)?>\s*</i>')
_ROW_ICON = (
    f'<i class="fas fa-exclamation-triangle text-warning {WARNING_CLASS}" '
    'title="warning: shown, does not stop the submission"></i>'
)
_HEADER_STATUS = re.compile(
    r'(<span class="h6" >Status:</span>\s*)<i class="fas fa-times text-danger"[^>]*></i>\s*Failed'
)
_HEADER_WARNING = (
    f'<i class="fas fa-exclamation-triangle text-warning {WARNING_CLASS}" aria-hidden="true">'
    "</i> Warnings only (may be submitted)"
)
_NO_ASSET = "Data asset: None"
_INDEX_FAILED = "fas fa-times text-danger ge-failed-icon"
_INDEX_WARNING = f"fas fa-exclamation-triangle text-warning {WARNING_CLASS}"


def describe_batches(meta: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, str]:
    """What each suite's page validated, in words: the snapshot id and cutoff. Keyed by
    batch, or by a page of a batch validated a column at a time (`events.unit_event`),
    which `mark_docs` prefers to its batch's."""
    snap = f"snapshot {meta.get('snapshot_id') or '?'} (cutoff {meta.get('cutoff') or '?'})"
    against = (
        f" against the previous snapshot {previous.get('snapshot_id') or '?'} "
        f"(cutoff {previous.get('cutoff') or '?'})"
        if previous is not None
        else ""
    )
    events = f"the archived events behind {snap}"
    return {
        "cells_schema": f"cells.parquet of {snap}",
        "cells": f"the figures of {snap}",
        "changes": f"the figures of {snap}{against}",
        "events": events,
        "events.received_event": f"{events}; received_event numbers an event by the row of "
        "its first copy (check-result.json names them)",
        "events.unit_event": f"{events}; unit_event numbers an event by the first row "
        "carrying its event_id (check-result.json names them)",
        "dead_letters": f"the dead letters for {snap}",
    }


def warning_only_suites(outcomes: Iterable[Outcome], suite_of: Mapping[str, str]) -> set[str]:
    """The suites (`suite_of`: check id -> the suite it ran in, without `arrears.`) whose
    failures are all warnings (at least one)."""
    failed: dict[str, set[str]] = {}
    for outcome in outcomes:
        if outcome.status == FAILED:
            suite = suite_of.get(outcome.check, CHECK_BY_ID[outcome.check].batch)
            failed.setdefault(suite, set()).add(outcome.grade)
    return {suite for suite, grades in failed.items() if grades == {"warning"}}


def mark_docs(
    docs_dir: Path,
    outcomes: Iterable[Outcome],
    described: Mapping[str, str],
    suite_of: Mapping[str, str],
) -> None:
    """Edit the written validation pages and the index (see the module). `suite_of` names
    the suite each check ran in (`SuiteRunner.suite_of`)."""
    outcomes = list(outcomes)
    warned = {o.check for o in outcomes if o.status == FAILED and o.grade == "warning"}
    quiet = warning_only_suites(outcomes, suite_of)
    validations = docs_dir / "validations"
    for page in sorted(validations.rglob("*.html")) if validations.is_dir() else []:
        # validations/<suite name, a folder a dot>/<run name>/<run time>/<batch id>.html
        suite = ".".join(page.relative_to(validations).parts[1:-3])
        text = page.read_text("utf-8")
        new = _mark_rows(text, warned)
        if suite in quiet:
            new = _HEADER_STATUS.sub(lambda m: m.group(1) + _HEADER_WARNING, new, count=1)
        what = described.get(suite) or described.get(suite.split(".")[0])
        if what is not None:
            new = new.replace(_NO_ASSET, f"Data asset: {escape(what)}")
        if new != text:
            page.write_text(new, "utf-8")
    index = docs_dir / "index.html"
    if index.is_file():
        text = index.read_text("utf-8")
        new = _mark_index(text, quiet)
        if new != text:
            index.write_text(new, "utf-8")


def _mark_rows(text: str, warned: set[str]) -> str:
    """Each table row (GX ends every one with `</tr>`) of a failed warning: a warning sign."""
    rows = text.split("</tr>")
    for i, row in enumerate(rows):
        check = _row_check(row)
        if check in warned:
            rows[i] = _FAILED_ICON.sub(_ROW_ICON, row, count=1)
    return "</tr>".join(rows)


_DESCRIPTION = re.compile(r"\[warning\] ([a-z_]+\.[a-z_]+):")


def _row_check(row: str) -> str | None:
    match = _DESCRIPTION.search(row)
    return None if match is None else match.group(1)


def _mark_index(text: str, quiet: set[str]) -> str:
    """The index lists each run as a JS object starting with its `validation_success` cell."""
    parts = text.split("{'validation_success':")
    for i, part in enumerate(parts[1:], 1):
        suite = re.search(r"'_expectation_suite_name_sort': 'arrears\.([a-z_.]+)'", part)
        if suite is None or suite.group(1) not in quiet:
            continue
        part = part.replace(_INDEX_FAILED, _INDEX_WARNING, 1)
        parts[i] = part.replace(
            "'_validation_success_text': 'Failed'", "'_validation_success_text': 'Warning'", 1
        )
    return "{'validation_success':".join(parts)
