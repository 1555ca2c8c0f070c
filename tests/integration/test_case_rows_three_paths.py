"""The row of a case's follow-ups (SPEC 4.1) on a real broker: a manufacturer's case on a
construction project takes its orders, transfers, filings and resolution to 建筑业, in the
live tallies of a real worker, the Kafka replay and the archive batch alike, including
follow-ups that reach the log before their case and a case corrected off its project."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.cutoff import parse_cutoff
from infra.admin import ensure_topics
from infra.settings import Settings
from pipeline.commands.worker import free_port
from streams.live import gather
from tests.contracts.eventkit import BUILDER, FACTORY, GOV_PROJECT, raw
from tests.faults.verdict import three_paths
from tests.integration.test_warehouse import produce
from tests.streams.kafka_kit import WorkerProcess, wait_caught_up
from tests.streams.workload import CAMPAIGN, DEC31, REGISTRY
from warehouse.kafka_log import source_topics
from warehouse.replay import rebuild_from_kafka

pytestmark = pytest.mark.integration


def _case(case_id: str, unit: str, employer: dict[str, Any], **kw: Any) -> dict[str, Any]:
    payload = {
        "case_id": case_id,
        "employer": employer,
        "project": GOV_PROJECT,
        "workers": 6,
        "amount": "6000.00",
    }
    return raw("arrears.verified", payload, unit=unit, event_id=f"{case_id}-v", **kw)


def _follow_ups(case_id: str, unit: str, employer: dict[str, Any]) -> list[dict[str, Any]]:
    def of(type_: str, **payload: Any) -> dict[str, Any]:
        body = {"case_id": case_id, "employer": employer, **payload}
        return raw(type_, body, unit=unit, event_id=f"{case_id}-{type_}")

    return [
        of("order.issued", kind="penalty_decision", document_no=f"常人社监罚〔2024〕{case_id}号"),
        of("case.transferred"),
        of("case.filed"),
        of(
            "arrears.resolved",
            workers=6,
            amount="6000.00",
            channel="inspection",
            new_employment_form=False,
        ),
    ]


#: The table cells the follow-ups above feed, one each.
_COLUMNS = ("penalty_decisions", "police_transfers", "police_filings", "resolved")


def _row_of_follow_ups(figures: dict[tuple[str, str], int], unit: str) -> dict[str, int]:
    """row -> how many of the follow-ups' cells it holds, for one unit."""
    out: dict[str, int] = {}
    for (u, cell), value in figures.items():
        row, _, column = cell.partition(".")
        if u == unit and column in _COLUMNS and row != "total" and value:
            out[row] = out.get(row, 0) + value
    return out


def test_a_case_on_a_project_places_its_follow_ups_alike_live_in_kafka_and_in_the_archive(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    # 320412: the case first; 320411: its follow-ups first; 320402: corrected off its project
    # after its follow-ups; 320404: a builder's case, already 建筑业 by its industry.
    first = [
        _case("C-a", "320412", FACTORY),
        *_follow_ups("C-a", "320412", FACTORY),
        *_follow_ups("C-b", "320411", FACTORY),
        _case("C-c", "320402", FACTORY),
        *_follow_ups("C-c", "320402", FACTORY),
        _case("C-d", "320404", BUILDER),
        *_follow_ups("C-d", "320404", BUILDER),
    ]
    off_project = _case("C-c", "320402", FACTORY, supersedes="C-c-v")
    off_project.update(event_id="C-c-v2")
    del off_project["payload"]["project"]
    later = [_case("C-b", "320411", FACTORY), off_project]

    worker = WorkerProcess(settings, "w1", free_port(), tmp_path).start()
    try:
        worker.wait_ready()
        produce(settings, first)  # type: ignore[arg-type]
        live = wait_caught_up(settings)
        # before its case arrives, a follow-up counts in its employer's row
        assert _row_of_follow_ups(dict(live.own), "320411") == {"manufacturing": 4}
        produce(settings, later)  # type: ignore[arg-type]
        verdict = three_paths(settings, tmp_path, "case rows", sent=len(first) + len(later))
        assert verdict.clean, verdict.explain()
        assert verdict.cells > 0
        live = gather(settings, DEC31, timeout=30)
    finally:
        assert worker.stop() == 0, worker.log_tail()

    kafka = rebuild_from_kafka(
        settings.bootstrap_servers, source_topics(settings), None, REGISTRY
    ).rebuild.own_figures(parse_cutoff("2024-12-31", CAMPAIGN))
    for figures in (dict(live.own), kafka):
        assert _row_of_follow_ups(figures, "320412") == {"construction": 4}
        assert _row_of_follow_ups(figures, "320411") == {"construction": 4}
        assert _row_of_follow_ups(figures, "320402") == {"manufacturing": 4}
        assert _row_of_follow_ups(figures, "320404") == {"construction": 4}
