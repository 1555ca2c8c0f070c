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
