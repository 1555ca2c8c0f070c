"""Hotspots and the problem ledger from a hand-made log, batch from the archive: a merged
lead, a correction that moves a case's amount, a corrected lead, a retracted
verification and a case resolved after the cutoff; every expected figure written here."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from contracts.casebook import fact_of, read_fact
from contracts.cutoff import parse_cutoff
from contracts.events import parse_event
from contracts.problems import CLOSED, OPEN
from contracts.registry import Registry
from contracts.supervision import Rules, hotspots, load_rules
from tests.contracts.eventkit import BUILDER, FACTORY, GOV_PROJECT, REPAIR, raw
from tests.warehouse.logkit import Log
from warehouse.archive_files import archive_records
from warehouse.batch import BatchRebuild
from warehouse.replay import rebuild_from_archive
from warehouse.supervision import Supervision, supervise_rebuild

REGISTRY = Registry.load()
TOPICS = [f"t.{s}" for s in ("inspection", "mediation", "court", "complaint")]

RULES_TOML = """
[supervision]
window_days = 7
deadline = "window_end"
many_leads = 3
fast_growth_pct = 100
fast_growth_min_leads = 2
"""


def _lead(lead: str, at: str, claimed: str, unit: str = "320412", **kw: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "lead_id": lead,
        "intake": kw.pop("intake", "hotline"),
        "workers_claimed": kw.pop("workers", 2),
        "amount_claimed": claimed,
    }
    for name in ("employer", "project"):
        if name in kw:
            payload[name] = kw.pop(name)
    return raw("lead.received", payload, unit=unit, at=at, **kw)


def _step(type_: str, lead: str, at: str, **payload: Any) -> dict[str, Any]:
    return raw(type_, {"lead_id": lead, **payload}, unit="320412", at=at)


def _verified(case: str, eid: str, at: str, amount: str, workers: int, **kw: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "case_id": case,
        "employer": kw.pop("employer", FACTORY),
        "workers": workers,
        "amount": amount,
    }
    if "project" in kw:
        payload["project"] = kw.pop("project")
    return raw("arrears.verified", payload, unit="320412", event_id=eid, at=at, **kw)


def _resolved(case: str, at: str, amount: str, workers: int, **kw: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "case_id": case,
        "employer": kw.pop("employer", FACTORY),
        "workers": workers,
        "amount": amount,
        "channel": "inspection",
        "new_employment_form": False,
    }
    if "project" in kw:
        payload["project"] = kw.pop("project")
    return raw("arrears.resolved", payload, unit="320412", at=at, **kw)


def _inspected(
    employer: dict[str, Any], workers: int, method: str, at: str, **project: Any
) -> dict[str, Any]:
    """Inspected with `workers` (a fifth of them not migrant workers)."""
    payload = {"employer": employer, "workers": workers, "method": method, **project}
    payload["migrant_workers"] = workers * 4 // 5
    return raw("employer.inspected", payload, unit="320412", at=at)


def story() -> list[dict[str, Any]]:
    on = "+08:00"
    l3 = _lead("L-3", f"2024-12-30T09:00:00{on}", "1800.00", employer=BUILDER, project=GOV_PROJECT)
    l3_fixed = {**l3, "payload": {**l3["payload"], "amount_claimed": "2000.00"}}
    l3_fixed.update(event_id=f"{l3['event_id']}-fix", supersedes=l3["event_id"])
    return [
        # complaints about the government project (and its builder)
        _lead("L-5", f"2024-12-20T09:00:00{on}", "900.00", employer=BUILDER, project=GOV_PROJECT),
        _lead(
            "L-1",
            f"2024-12-28T09:00:00{on}",
            "5000.00",
            employer=BUILDER,
            project=GOV_PROJECT,
            workers=5,
        ),
        _lead("L-2", f"2024-12-29T09:00:00{on}", "5000.00", employer=BUILDER, project=GOV_PROJECT),
        _step("lead.verified", "L-1", f"2024-12-29T10:00:00{on}", verdict="substantiated"),
        _step("lead.merged", "L-2", f"2024-12-30T08:00:00{on}", into_lead_id="L-1"),
        l3,
        l3_fixed,
        _step("lead.verified", "L-3", f"2024-12-31T09:00:00{on}", verdict="unsubstantiated"),
        # a complaint about the factory, substantiated and closed
        _lead("L-4", f"2024-12-30T11:00:00{on}", "1500.00", employer=FACTORY),
        _step("lead.verified", "L-4", f"2024-12-30T15:00:00{on}", verdict="substantiated"),
        _step("lead.closed", "L-4", f"2024-12-31T10:00:00{on}"),
        # elsewhere: a lead with no verdict yet
        _lead("L-6", f"2024-12-31T09:00:00{on}", "700.00", unit="320402", employer=REPAIR),
        # the factory's case: verified, its amount corrected, resolved
        _verified("C-1", "v-1", f"2024-12-10T10:00:00{on}", "20000.00", 8),
        _verified("C-1", "v-1b", f"2024-12-10T10:00:00{on}", "30000.00", 9, supersedes="v-1"),
        _resolved("C-1", f"2024-12-20T10:00:00{on}", "30000.00", 9),
        # the project's case: verified, an order, resolved only after the cutoff
        _verified(
            "C-2",
            "v-2",
            f"2024-12-15T10:00:00{on}",
            "100000.00",
            20,
            employer=BUILDER,
            project=GOV_PROJECT,
        ),
        raw(
            "order.issued",
            {
                "case_id": "C-2",
                "employer": BUILDER,
                "kind": "rectification",
                "document_no": "武人社监令〔2024〕1号",
            },
            unit="320412",
            at=f"2024-12-20T10:00:00{on}",
        ),
        _resolved(
            "C-2",
            f"2025-01-05T10:00:00{on}",
            "100000.00",
            20,
            employer=BUILDER,
            project=GOV_PROJECT,
        ),
        # inspections: on site at the factory, online on the project
        _inspected(FACTORY, 100, "onsite", f"2024-12-05T10:00:00{on}"),
        _inspected(BUILDER, 250, "online", f"2024-12-06T10:00:00{on}", project=GOV_PROJECT),
        # a verification entered by mistake, retracted
        _verified("C-3", "v-3", f"2024-12-16T10:00:00{on}", "5000.00", 3, employer=REPAIR),
        raw(
            "event.retracted",
            {"retracts": "v-3", "reason": "entered under the wrong employer"},
            unit="320412",
            at=f"2024-12-17T10:00:00{on}",
        ),
    ]


@pytest.fixture
def rules(tmp_path: Path) -> Rules:
    campaign = Path(__file__).parents[2] / "contracts" / "campaign-2024.toml"
    text = campaign.read_text("utf-8").split("[supervision]")[0] + RULES_TOML
    path = tmp_path / "campaign.toml"
    path.write_text(text, "utf-8")
    return load_rules(path)


def _supervise(tmp_path: Path, rules: Rules, cutoff: str) -> Supervision:
    log = Log("t.")
    log.append(story())
    archive = tmp_path / "archive"
    archive_records(archive, log.records, REGISTRY)
    rebuilt = rebuild_from_archive(archive, TOPICS, None, REGISTRY)
    assert isinstance(rebuilt.rebuild, BatchRebuild)
    return supervise_rebuild(rebuilt.rebuild, parse_cutoff(cutoff), rules, archive=archive)


def test_the_ledger_at_the_december_cutoff(tmp_path: Path, rules: Rules) -> None:
    found = _supervise(tmp_path, rules, "2024-12-31")
    lines = {(x.unit, x.kind, x.id): x for x in found.lines}
    assert set(lines) == {
        ("320412", "project", "P-GOV-1"),
        ("320412", "employer", FACTORY["id"]),
    }  # no line for the retracted verification, nor for a lead without a verdict
    project = lines[("320412", "project", "P-GOV-1")]
    assert (project.name, project.employer_id) == ("某安置房项目", BUILDER["id"])
    assert (project.leads_received, project.leads_substantiated, project.leads_merged) == (3, 1, 1)
    assert (project.leads_open, project.cases_open, project.cases_closed) == (1, 1, 0)
    assert (project.verified_fen, project.resolved_fen, project.workers) == (10_000_000, 0, 20)
    assert project.first_seen == dt.date(2024, 12, 15)
    assert (project.last_action, project.last_action_on) == ("线索核实", dt.date(2024, 12, 31))
    assert project.days_open == 16
    # working days in (12-31, 01-28]: 1-1 off, 1-26 (Sunday) worked, 1-28 the festival's eve off
    assert project.working_days_left == 19
    assert project.status == OPEN and project.open_cases == ("C-2",)

    factory = lines[("320412", "employer", FACTORY["id"])]
    assert (factory.leads_received, factory.leads_substantiated, factory.leads_open) == (1, 1, 0)
    assert (factory.cases_open, factory.cases_closed) == (0, 1)
    # the correction moved the case from 20000.00 to 30000.00 yuan and 8 to 9 workers
    assert (factory.verified_fen, factory.resolved_fen, factory.workers) == (3_000_000,) * 2 + (9,)
    assert (factory.first_seen, factory.last_action_on) == (dt.date(2024, 12, 10),) + (
        dt.date(2024, 12, 31),
    )
    assert (factory.last_action, factory.days_open) == ("线索办结", 21)
    assert factory.status == CLOSED and factory.working_days_left is None
    assert [x.id for x in found.lines] == ["P-GOV-1", FACTORY["id"]]  # open lines first


def test_the_case_resolved_after_the_cutoff_closes_at_the_final_cutoff(
    tmp_path: Path, rules: Rules
) -> None:
    found = _supervise(tmp_path, rules, "final")
    project = next(x for x in found.lines if x.id == "P-GOV-1")
    assert (project.cases_open, project.cases_closed, project.resolved_fen) == (0, 1, 10_000_000)
    assert project.status == OPEN  # its substantiated lead L-1 is not closed yet
    assert project.leads_open == 1 and project.working_days_left == 0


def test_hotspots_under_a_district_and_under_the_city(tmp_path: Path, rules: Rules) -> None:
    found = _supervise(tmp_path, rules, "2024-12-31")
    wujin = hotspots(found.counts, REGISTRY, "320412", rules)
    (unit,) = wujin["unit"]
    # window 12-25..12-31: L-1, L-3, L-4 (L-2 merged into L-1); before it: L-5
    assert (unit.id, unit.leads, unit.previous, unit.substantiated) == ("320412", 3, 1, 2)
    assert unit.claimed_fen == 850_000  # 5000 + 2000 (L-3 as corrected) + 1500 yuan
    assert unit.workers_claimed == 9 and unit.growth_pct == 200
    assert unit.many and unit.fast
    project = wujin["project"][0]
    assert (project.id, project.leads, project.previous, project.substantiated) == (
        "P-GOV-1",
        2,
        1,
        1,
    )
    assert (project.claimed_fen, project.many, project.fast) == (700_000, False, True)
    employers = {h.id: h for h in wujin["employer"]}
    assert (employers[BUILDER["id"]].leads, employers[BUILDER["id"]].fast) == (2, True)
    factory = employers[FACTORY["id"]]
    assert (factory.leads, factory.previous, factory.flagged) == (1, 0, False)
    assert [h.id for h in wujin["employer"]] == [BUILDER["id"], FACTORY["id"]]

    city = hotspots(found.counts, REGISTRY, "320400", rules, top=2)
    assert [(h.id, h.leads, h.flagged) for h in city["unit"]] == [
        ("320412", 3, True),
        ("320402", 1, False),
    ]
    # the factory and the repairer tie on one lead each: the credit code decides
    assert [h.id for h in city["employer"]] == [BUILDER["id"], REPAIR["id"]]
    by_growth = hotspots(found.counts, REGISTRY, "320400", rules, by="growth")
    # new this week (none before: growth without bound) ranks above +100%
    assert [h.id for h in by_growth["employer"]] == [REPAIR["id"], FACTORY["id"], BUILDER["id"]]


def test_the_ledgers_open_cases_are_the_snapshot_cell_the_expectation_reads(
    tmp_path: Path, rules: Rules
) -> None:
    found = _supervise(tmp_path, rules, "2024-12-31")
    rebuilt = rebuild_from_archive(tmp_path / "archive", TOPICS, None, REGISTRY)
    figures = rebuilt.rebuild.own_figures(parse_cutoff("2024-12-31"))
    open_cell = {u: v for (u, c), v in figures.items() if c == "aux.open_cases" and v}
    from_ledger: dict[str, int] = {}
    for line in found.lines:
        if line.cases_open:
            from_ledger[line.unit] = from_ledger.get(line.unit, 0) + line.cases_open
    assert open_cell == from_ledger == {"320412": 1}


def test_the_shipped_rules_come_from_the_campaign_file() -> None:
    rules = load_rules()
    assert (rules.window_days, rules.many_leads, rules.fast_growth_pct) == (7, 10, 100)
    assert rules.deadline.isoformat() == "2025-01-28T23:59:59+08:00"


def test_the_facts_read_back_are_those_of_the_parsed_events(tmp_path: Path, rules: Rules) -> None:
    """`read_fact` decodes a record as `parse_event` does (the casebook's input on both paths,
    without validating the record again): compact, spaced, and with JSON escapes."""
    records = [
        json.dumps(e, ensure_ascii=ascii, separators=separators).encode()
        for e in story()
        for ascii in (False, True)
        for separators in ((",", ":"), (", ", ": "))
    ]
    parsed = [parse_event(r, REGISTRY) for r in records]
    assert [read_fact(r) for r in records] == [fact_of(e) for e in parsed]
    found = _supervise(tmp_path, rules, "2024-12-31")
    assert sorted(found.book.inspections) == [
        ("320412", BUILDER["id"], "online", "P-GOV-1"),
        ("320412", FACTORY["id"], "onsite", None),
    ]
