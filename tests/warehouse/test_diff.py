"""diff: each changed cell names the late arrival, the correction and the retraction."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.warehouse.conftest import Story

Cli = Callable[..., tuple[int, str, str]]


def _two_snapshots(cli: Cli, story: Story) -> None:
    for args in (
        ("--as-of", story.o1_text, "--label", "close-of-business"),
        ("--label", "restated"),
    ):
        code, _, err = cli(
            "snapshot", "--cutoff", "2024-12-31", "--from", "archive", "--quiet", *args
        )
        assert code == 0, err


def _changes(cli: Cli, *extra: str) -> dict[tuple[str, str, str], dict]:  # type: ignore[type-arg]
    code, out, err = cli(
        "diff",
        "2024-12-31@close-of-business",
        "2024-12-31@restated",
        "--from",
        "archive",
        "--json",
        "--quiet",
        *extra,
    )
    assert code == 0, err
    return {(c["unit"], c["scope"], c["cell"]): c for c in json.loads(out)["changes"]}


def test_diff_names_late_arrival_correction_and_retraction(cli: Cli, story: Story) -> None:
    _two_snapshots(cli, story)
    changes = _changes(cli)
    late = changes[("320404", "own", "services.workers")]
    assert (late["a"], late["b"]) == (0, 35)
    assert [(c["kind"], c["event_id"]) for c in late["causes"]] == [("late arrival", "w-late-1")]
    assert "recorded 2025-01-02T09:00:00+08:00" in late["causes"][0]["detail"]

    corrected = changes[("320412", "own", "manufacturing.resolved_amount")]
    assert (corrected["a"], corrected["b"]) == (100_000, 150_000)
    assert [(c["kind"], c["event_id"], c["delta"]) for c in corrected["causes"]] == [
        ("correction", "w-res-1b", 150_000),
        ("superseded", "w-res-1", -100_000),
    ]

    retracted = changes[("320402", "own", "total.resolved")]
    assert [(c["kind"], c["event_id"], c["detail"]) for c in retracted["causes"]] == [
        ("retracted", "w-res-2", "by w-retract-1 (entered twice)")
    ]
    # the resend of the mediation event and the January event change nothing
    assert not any(c["unit"] == "320471" for c in changes.values())


def test_diff_rollup_scope_attributes_a_city_cell_to_its_districts_events(
    cli: Cli, story: Story
) -> None:
    _two_snapshots(cli, story)
    city = _changes(cli, "--scope", "rollup", "--unit", "320400")
    amount = city[("320400", "rollup", "total.resolved_amount")]
    assert (amount["a"], amount["b"]) == (135_000, 160_000)
    assert {c["event_id"]: c["kind"] for c in amount["causes"]} == {
        "w-res-1b": "correction",
        "w-res-1": "superseded",
        "w-res-2": "retracted",
    }
    assert all(unit == "320400" for unit, _, _ in city)


def test_diff_text_output(cli: Cli, story: Story) -> None:
    _two_snapshots(cli, story)
    code, out, _ = cli(
        "diff",
        "2024-12-31@close-of-business",
        "2024-12-31@restated",
        "--from",
        "archive",
        "--quiet",
    )
    assert code == 0
    assert "320404 own services.employers (服务业 用人单位户数): 0 -> 1 (+1)" in out
    assert "late arrival       w-late-1" in out
    code, out, _ = cli("diff", "2024-12-31@restated", "2024-12-31@restated", "--from", "archive")
    assert code == 0 and "0 changed cell(s)" in out


def test_a_case_arriving_after_its_follow_ups_is_named_as_moving_them() -> None:
    """SPEC 4.1: the follow-ups counted in their employer's row in A, in 建筑业 in B."""
    from contracts.cutoff import parse_cutoff
    from contracts.registry import Registry
    from tests.contracts.eventkit import FACTORY, GOV_PROJECT, raw
    from warehouse.cells_table import cells_frame
    from warehouse.diff import attribute
    from warehouse.rebuild import LogRecord, Rebuild
    from warehouse.snapshot import compare

    registry = Registry.load()
    transfer = raw("case.transferred", {"case_id": "C-m", "employer": FACTORY}, event_id="m-t")
    case = raw(
        "arrears.verified",
        {
            "case_id": "C-m",
            "employer": FACTORY,
            "project": GOV_PROJECT,
            "workers": 2,
            "amount": "9.00",
        },
        event_id="m-v",
    )
    records = [
        LogRecord("t.inspection", 0, i, json.dumps(o)) for i, o in enumerate([transfer, case])
    ]
    a, b = Rebuild(registry, keep_info=True), Rebuild(registry, keep_info=True)
    a.feed(records[:1])
    b.feed(records)
    cutoff = parse_cutoff("2024-12-31")
    changes = compare(
        cells_frame(a.own_figures(cutoff), registry), cells_frame(b.own_figures(cutoff), registry)
    )
    found = attribute(changes, a, cutoff, {"t.inspection": {0: 1}}, b, cutoff, registry)
    moved = {
        (c.cell, cause.event_id): (cause.kind, cause.detail)
        for c in found
        if c.unit == "320412" and c.scope == "own"
        for cause in c.causes
    }
    detail = "counts in the row of its case C-m (SPEC 4.1)"
    assert moved[("construction.police_transfers", "m-t")] == ("moved", detail)
    assert moved[("manufacturing.police_transfers", "m-t")] == ("moved", detail)
