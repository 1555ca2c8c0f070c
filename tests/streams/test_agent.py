"""The tallies agent through Faust's test_context(): every event type and every rule."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from contracts.cells import FOLDED_CELLS
from tests.contracts.eventkit import BUILDER, FACTORY, GOV_PROJECT, REPAIR, raw
from tests.streams.harness import Harness, run
from tests.streams.workload import DEC31, FINAL, recompute, workload

FIXTURES = Path(__file__).parents[1] / "fixtures"
CITY = "320400"


def inspection(
    event_id: str,
    at: str,
    workers: int,
    employer: dict = FACTORY,
    unit: str = "320412",
    **envelope: object,
) -> dict:
    return raw(
        "employer.inspected",
        {
            "employer": employer,
            "workers": workers,
            "migrant_workers": workers // 2,
            "method": "onsite",
        },
        unit=unit,
        at=at,
        event_id=event_id,
        **envelope,
    )


def test_every_event_type_of_the_fixture_file_gives_the_batch_answer() -> None:
    lines = [
        line.encode()
        for line in FIXTURES.joinpath("good_events.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]

    async def body(h: Harness) -> None:
        for line in lines:
            await h.put(line, wait=False)
        await h.settle(len(lines))
        assert h.figures(FINAL) == recompute(lines, FINAL)
        assert h.figures(DEC31) == recompute(lines, DEC31)
        assert h.dead_letters == []
        types = {json.loads(line)["type"] for line in lines}
        assert len(types) == 15  # every type of SPEC 5.2 and event.retracted

    run(body)


def test_each_type_lands_in_its_cells() -> None:
    at = "2024-12-02T10:00:00+08:00"
    events = [
        raw(
            "arrears.resolved",
            {
                "case_id": "C1",
                "employer": FACTORY,
                "workers": 7,
                "amount": "1000.50",
                "channel": "industry_regulator",
                "new_employment_form": True,
            },
            at=at,
        ),
        raw(
            "dispute.resolved",
            {
                "case_no": "M1",
                "employer": REPAIR,
                "workers": 3,
                "amount": "200",
                "channel": "mediation",
                "new_employment_form": False,
            },
            at=at,
        ),
        raw(
            "execution.concluded",
            {
                "case_no": "(2024)苏0412执1号",
                "employer": BUILDER,
                "workers": 5,
                "amount": "300",
                "new_employment_form": False,
            },
            at=at,
        ),
        raw(
            "order.issued",
            {"case_id": "C1", "employer": FACTORY, "kind": "penalty_decision", "document_no": "D1"},
            at=at,
        ),
        raw("case.transferred", {"case_id": "C1", "employer": FACTORY}, at=at),
        raw("case.filed", {"case_id": "C1", "employer": FACTORY}, at=at),
        raw("employer.published", {"employer": FACTORY}, at=at),
        raw("employer.blacklisted", {"employer": FACTORY, "listing_no": "B1"}, at=at),
        raw(
            "lead.received",
            {
                "lead_id": "L1",
                "intake": "centralized_reception",
                "workers_claimed": 3,
                "amount_claimed": "10",
            },
            at=at,
        ),
        raw(
            "lead.received",
            {
                "lead_id": "L2",
                "intake": "centralized_reception",
                "workers_claimed": 3,
                "amount_claimed": "10",
            },
            at=at,
        ),
        raw("lead.merged", {"lead_id": "L2", "into_lead_id": "L1"}, at=at),
        raw("lead.closed", {"lead_id": "L1"}, at=at),
        raw(
            "employer.inspected",
            {
                "employer": BUILDER,
                "project": GOV_PROJECT,
                "workers": 40,
                "migrant_workers": 30,
                "method": "onsite",
            },
            at=at,
        ),
    ]

    async def body(h: Harness) -> None:
        for e in events:
            await h.put(e, wait=False)
        await h.settle(len(events))
        f = {cell: v for (unit, cell), v in h.figures().items() if unit == "320412"}
        assert f["manufacturing.resolved"] == 1 and f["manufacturing.resolved_amount"] == 100050
        assert f["services.resolved_workers"] == 3  # division 43 is 服务业
        assert f["construction.resolved"] == 1 and f["construction.employers"] == 1
        assert (f["item2.cases"], f["item3.cases"], f["item4.cases"], f["item5.cases"]) == (
            1,
            1,
            1,
            1,
        )
        assert f["manufacturing.penalty_decisions"] == 1
        assert f["manufacturing.police_transfers"] == 1 and f["manufacturing.police_filings"] == 1
        assert f["item7.published_employers"] == 1 and f["item7.blacklist_listings"] == 1
        assert f["item6.reception_leads"] == 1  # L2 merged into L1
        assert f["item1.gov_projects"] == 1 and f["construction.migrant_workers"] == 30
        assert f["total.resolved"] == 3 and f["total.resolved_amount"] == 100050 + 20000 + 30000
        assert h.figures()[(CITY, "total.resolved")] == 3

    run(body)


def test_distinct_employers_within_a_unit_summed_up_the_tree() -> None:
    async def body(h: Harness) -> None:
        await h.put(inspection("d1", "2024-11-05T09:00:00+08:00", 10))
        await h.put(inspection("d2", "2024-11-20T09:00:00+08:00", 12))  # same employer again
        await h.put(inspection("d3", "2024-11-21T09:00:00+08:00", 5, unit="320411"))
        assert h.cell("320412", "manufacturing.employers") == 1
        assert h.cell("320411", "manufacturing.employers") == 1
        assert h.cell(CITY, "manufacturing.employers") == 2  # distinct per unit, then summed
        assert h.cell(CITY, "total.employers") == 2

    run(body)


def test_latest_headcount_depends_on_the_cutoff_and_late_events_are_placed_by_event_time() -> None:
    async def body(h: Harness) -> None:
        await h.put(inspection("h1", "2024-12-10T09:00:00+08:00", 100))
        await h.put(inspection("h2", "2025-01-05T09:00:00+08:00", 150))
        assert h.cell("320412", "manufacturing.workers", DEC31) == 100
        assert h.cell("320412", "manufacturing.workers", FINAL) == 150
        # an inspection of 12-01 arriving late must not displace the 12-10 figure
        await h.put(inspection("h0", "2024-12-01T09:00:00+08:00", 70))
        assert h.cell("320412", "manufacturing.workers", DEC31) == 100
        assert h.cell("320412", "manufacturing.workers", DEC31 - 25) == 70  # 12-06
        # one of 12-31 23:59:59 arriving in January belongs to the December figures
        await h.put(inspection("h3", "2024-12-31T23:59:59+08:00", 120))
        assert h.cell("320412", "manufacturing.workers", DEC31) == 120
        assert h.cell("320412", "manufacturing.migrant_workers", DEC31) == 60
        assert h.cell("320412", "manufacturing.workers", FINAL) == 150
        # and an inspection before the window never counts
        await h.put(inspection("h4", "2024-10-31T23:59:59+08:00", 999, unit="320411"))
        assert h.cell("320411", "manufacturing.employers", FINAL) == 0

    run(body)


def test_supersedes_and_retraction_in_either_order() -> None:
    async def body(h: Harness) -> None:
        # correction after the original
        await h.put(inspection("s1", "2024-12-10T09:00:00+08:00", 100))
        await h.put(inspection("s1-c", "2024-12-10T09:00:00+08:00", 130, supersedes="s1"))
        assert h.cell("320412", "manufacturing.workers") == 130
        # correction arriving before its original (another unit, so figures are separate)
        await h.put(
            inspection("t1-c", "2024-12-11T09:00:00+08:00", 40, unit="320411", supersedes="t1")
        )
        await h.put(inspection("t1", "2024-12-11T09:00:00+08:00", 25, unit="320411"))
        assert h.cell("320411", "manufacturing.workers") == 40
        assert h.cell("320411", "manufacturing.employers") == 1
        # retraction of the correction removes the employer altogether
        await h.put(
            raw("event.retracted", {"retracts": "s1-c", "reason": "录入错误"}, event_id="r1")
        )
        assert h.cell("320412", "manufacturing.employers") == 0
        assert h.cell("320412", "manufacturing.workers") == 0
        # retraction arriving before its target: the target never counts
        await h.put(
            raw(
                "event.retracted",
                {"retracts": "u1", "reason": "重复"},
                unit="320413",
                event_id="r2",
            )
        )
        await h.put(inspection("u1", "2024-12-12T09:00:00+08:00", 60, unit="320413"))
        assert h.cell("320413", "manufacturing.employers") == 0
        assert h.dead_letters == []

    run(body)


def test_a_case_on_a_project_takes_its_follow_ups_to_construction_in_either_order() -> None:
    def case(event_id: str, unit: str, **envelope: object) -> dict:
        return raw(
            "arrears.verified",
            {
                "case_id": "C-7",
                "employer": FACTORY,
                "project": GOV_PROJECT,
                "workers": 4,
                "amount": "8000.00",
            },
            unit=unit,
            event_id=event_id,
            **envelope,
        )

    def transfer(event_id: str, unit: str) -> dict:
        return raw(
            "case.transferred",
            {"case_id": "C-7", "employer": FACTORY},
            unit=unit,
            event_id=event_id,
        )

    async def body(h: Harness) -> None:
        # the case first, then its follow-up
        await h.put(case("v1", "320412"))
        await h.put(transfer("t1", "320412"))
        assert h.cell("320412", "construction.police_transfers") == 1
        assert h.cell("320412", "manufacturing.police_transfers") == 0
        # the follow-up first: its employer's row until the case arrives, then 建筑业
        await h.put(transfer("t2", "320411"))
        assert h.cell("320411", "manufacturing.police_transfers") == 1
        await h.put(case("v2", "320411"))
        assert h.cell("320411", "construction.police_transfers") == 1
        assert h.cell("320411", "manufacturing.police_transfers") == 0
        # a correction of the case that drops the project takes it back
        dropped = case("v2-c", "320411", supersedes="v2")
        del dropped["payload"]["project"]
        await h.put(dropped)
        assert h.cell("320411", "manufacturing.police_transfers") == 1
        assert h.cell("320411", "construction.police_transfers") == 0
        assert h.dead_letters == []

    run(body)


def test_a_resend_with_the_same_content_is_a_noop() -> None:
    async def body(h: Harness) -> None:
        event = inspection("i1", "2024-12-10T09:00:00+08:00", 100)
        await h.put(event)
        reordered = json.dumps(dict(reversed(list(event.items()))), indent=2).encode()
        await h.put(reordered)
        assert h.runtime.counts["duplicate"] == 1
        assert h.cell("320412", "manufacturing.workers") == 100
        assert h.dead_letters == []

    run(body)


def test_a_conflict_and_invalid_records_go_to_dead_letters() -> None:
    async def body(h: Harness) -> None:
        await h.put(inspection("c1", "2024-12-10T09:00:00+08:00", 100))
        await h.put(inspection("c1", "2024-12-10T09:00:00+08:00", 101))  # same id, new content
        await h.put(b"\xff not json")
        await h.put(inspection("c2", "2024-12-10T09:00:00+08:00", 5, unit="320499"))
        assert h.cell("320412", "manufacturing.workers") == 100
        reasons = [d["reason"] for d in h.dead_letters]
        assert reasons[0] == "event_id.conflict" and "supersedes" in h.dead_letters[0]["message"]
        assert reasons[2] == "unit.unknown" and len(reasons) == 3
        first = h.dead_letters[0]
        assert first["origin"] == "stream" and (first["partition"], first["offset"]) == (0, 1)
        assert json.loads(first["original"])["event_id"] == "c1"
        assert h.dead_letters[1].get("original_encoding") == "base64"

    run(body)


def test_the_same_offset_delivered_again_is_skipped() -> None:
    async def body(h: Harness) -> None:
        first = inspection("o1", "2024-12-10T09:00:00+08:00", 100)
        correction = inspection("o1-c", "2024-12-10T09:00:00+08:00", 130, supersedes="o1")
        await h.put(first)  # offset 0
        await h.put(correction)  # offset 1
        before = h.figures()
        # Kafka delivers offsets 0 and 1 again (a crash before the commit)
        await h.put(first, offset=0)
        await h.put(correction, offset=1)
        assert h.runtime.counts["skipped"] == 2
        assert h.figures() == before
        assert h.cell("320412", "manufacturing.workers") == 130
        # and a new offset still counts
        await h.put(inspection("o2", "2024-12-11T09:00:00+08:00", 7, employer=REPAIR), offset=2)
        assert h.cell("320412", "services.employers") == 1

    run(body)


def test_a_mixed_stream_over_three_partitions_equals_the_batch_recompute() -> None:
    records = workload(700, seed=3)

    async def body(h: Harness) -> None:
        offsets = [0, 0, 0]
        for r in records:
            p = zlib.crc32(r.unit.encode()) % 3
            await h.put(r.value, partition=p, offset=offsets[p], wait=False)
            offsets[p] += 1
        await h.settle(len(records))
        values = [r.value for r in records]
        for day in (DEC31 - 30, DEC31, FINAL):
            assert h.figures(day) == recompute(values, day)
        assert h.figures()[(CITY, "total.employers")] > 0
        assert {d["reason"] for d in h.dead_letters} >= {"event_id.conflict", "json.invalid"}
        assert set(c for (_, c) in h.figures()) >= FOLDED_CELLS

    run(body)


def test_the_changelog_records_rebuild_the_table() -> None:
    """What recovery reads back (the batched, once-encoded records) is the table, key for key."""
    records = workload(400, seed=5)

    async def body(h: Harness) -> None:
        offsets = [0, 0, 0]
        for r in records:
            p = zlib.crc32(r.unit.encode()) % 3
            await h.put(r.value, partition=p, offset=offsets[p], wait=False)
            offsets[p] += 1
        await h.settle(len(records))
        assert h.recovered() == dict(h.runtime.table.data.items())
        for p, sent in h.changelog.items():
            keys = [json.loads(k) for k, _ in sent]
            assert keys[0] == f"J|{p}"  # a chunk's journal goes before its keys
            assert all(k.split("|")[1] == str(p) for k in keys)

    run(body)


def test_own_reports_the_offsets_and_the_events_its_figures_reflect() -> None:
    async def body(h: Harness) -> None:
        runtime = h.runtime
        runtime.owned = lambda: frozenset({0, 1, 2})  # no assignment in a test context
        runtime.sources = frozenset({"<internal>", "t.court"})  # the test context's topic
        at = "2024-12-10T09:00:00+08:00"
        await h.put(inspection("n1", at, 10))  # partition 0, offset 0
        await h.put(b"\xff not json")  # 1: rejected, yet applied: not read again
        await h.put(inspection("n1", at, 10))  # 2: a resend is an event (as the replay counts)
        await h.put(inspection("n2", at, 4, unit="320411"), partition=1, offset=0)
        answer = runtime.own(FINAL)
        assert answer["offsets"] == {
            "<internal>": {"0": 3, "1": 1, "2": 0},
            "t.court": {"0": 0, "1": 0, "2": 0},
        }
        assert answer["events"] == 3
        assert ["320411", "manufacturing.workers", 4] in answer["figures"]

    run(body)
