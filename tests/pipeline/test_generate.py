"""`arrears generate`: deterministic, valid, dirty in counted ways, flat in memory."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import tracemalloc
from collections import Counter
from typing import Any

import pytest

from contracts.calendar import load_campaign
from contracts.errors import ValidationError
from contracts.events import TYPES, parse_event
from contracts.registry import Registry
from pipeline.commands import generate as generate_cmd
from pipeline.errors import CliError
from pipeline.generate import BAD_KINDS, GenerateOptions, generate, manifest_path

SPLIT = dt.datetime.fromisoformat("2024-12-31T17:30:00+08:00")
CUTOFF = dt.datetime.fromisoformat("2024-12-31T23:59:59+08:00")
N = 30_000


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


@pytest.fixture(scope="module")
def run(tmp_path_factory, registry):
    """One split run shared by the read-only tests: (manifest, [(path, lines)])."""
    out = tmp_path_factory.mktemp("gen") / "campaign.jsonl"
    manifest = generate(
        GenerateOptions(unit="320400", events=N, seed=11, out=out, split_at=SPLIT),
        registry=registry,
    )
    files = [
        (out.with_name(f["path"]), out.with_name(f["path"]).read_bytes().splitlines())
        for f in manifest["files"]
    ]
    return manifest, files


def classify(lines: list[bytes], registry: Registry) -> dict[str, Any]:
    """Recount a file the way ingest and the ledger would."""
    seen: dict[str, str] = {}
    out: dict[str, Any] = {
        "bad": 0,
        "reasons": Counter(),
        "exact": 0,
        "conflict": 0,
        "events": Counter(),
        "corrections": 0,
        "retractions": 0,
        "late": 0,
    }
    for line in lines:
        try:
            event = parse_event(line, registry)
        except ValidationError as err:
            out["bad"] += 1
            out["reasons"][err.reason] += 1
            continue
        previous = seen.get(event.event_id)
        if previous is not None:
            out["exact" if previous == event.content_hash else "conflict"] += 1
            continue
        seen[event.event_id] = event.content_hash
        out["events"][f"{event.source}/{event.type}"] += 1
        out["corrections"] += event.supersedes is not None
        out["retractions"] += event.type == "event.retracted"
        out["late"] += (
            event.recorded_at is not None and event.occurred_at <= CUTOFF < event.recorded_at
        )
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, registry):
    def digest(seed: int, name: str) -> str:
        out = tmp_path / name
        generate(GenerateOptions(unit="320400", events=3000, seed=seed, out=out), registry=registry)
        return hashlib.sha256(out.read_bytes()).hexdigest()

    assert digest(5, "a.jsonl") == digest(5, "b.jsonl")
    assert digest(5, "a.jsonl") != digest(6, "c.jsonl")


#: sha256 of the files of two small runs (unit 320400, 3,000 lines, seed 5), first computed
#: before the generator was restructured from mixins into composed objects (issue 12). Any
#: change of these bytes is a change of behaviour: of the order of the random draws, or of
#: what is drawn. Changed once on purpose since (issue 14): a case of an employer of another
#: industry than construction is now verified on a project now and then (`rates.
#: CASE_ON_PROJECT_OTHER`), which adds a draw to every such case.
PINNED = {
    "campaign.jsonl": "489ee6bac9e9bfb2a985429fa842d91744c8385e932fa53910de8318d5ea3d1d",
    "campaign.jsonl.manifest.json": (
        "15e675498cff4d599a728381793e2d75eae71c1e94314fc8df295443f7bb4bc1"
    ),
    "split.jsonl": "dd80b458b9bf9e78659f8ba234364197c15a28629c84aee596943c253c3c5cdb",
    "split.after-split.jsonl": "68ce7069387af244eeb8e188217b834b723699dfe3d8adfbb8bbece3e0656c21",
    "split.jsonl.manifest.json": "b8de37592b211245def3b3a5363b7075a0dfe59f2f152b840f6a7f10a0586381",
}


def test_output_is_pinned(tmp_path, registry):
    generate(
        GenerateOptions(unit="320400", events=3000, seed=5, out=tmp_path / "campaign.jsonl"),
        registry=registry,
    )
    generate(
        GenerateOptions(
            unit="320400", events=3000, seed=5, out=tmp_path / "split.jsonl", split_at=SPLIT
        ),
        registry=registry,
    )
    digests = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in PINNED}
    assert digests == PINNED


def test_manifest_counts_equal_a_recount_of_each_file(run, registry):
    manifest, files = run
    total_lines = 0
    for part, (_path, lines) in zip(manifest["files"], files, strict=True):
        recount = classify(lines, registry)
        total_lines += len(lines)
        assert part["lines"] == len(lines)
        dirt = part["dirt"]
        assert dirt["bad"] == recount["bad"] == sum(dirt["bad_by_kind"].values())
        assert dirt["exact_resend"] == recount["exact"]
        assert dirt["conflicting_resend"] == recount["conflict"]
        assert dirt["correction"] == recount["corrections"]
        assert dirt["retraction"] == recount["retractions"]
        assert dirt["late_arrival"] == recount["late"]
        assert part["by_type"] == dict(recount["events"])
        assert part["events"] == sum(recount["events"].values())
        reasons = dict(part["dead_letter_reasons"])
        assert reasons.pop("event_id.conflict", 0) == recount["conflict"]
        assert reasons == dict(recount["reasons"])
    assert manifest["totals"]["lines"] == total_lines == N
    written = json.loads(manifest_path(files[0][0]).read_text(encoding="utf-8"))
    assert written == manifest


def test_split_by_recorded_at(run, registry):
    manifest, files = run
    (first, known), (second, later) = files
    assert [f["role"] for f in manifest["files"]] == ["known_by_split", "after_split"]
    assert second.name == "campaign.after-split.jsonl"
    for lines, before in ((known, True), (later, False)):
        for line in lines[:: max(1, len(lines) // 2000)]:
            try:
                event = parse_event(line, registry)
            except ValidationError:
                continue
            assert (event.recorded_at <= SPLIT) is before
    # the restatement material lands after the split: late arrivals and January fixes
    assert manifest["files"][1]["dirt"]["late_arrival"] > 0
    assert manifest["files"][1]["dirt"]["correction"] > 0


def test_every_bad_kind_is_rejected_with_its_reason(run):
    manifest, _ = run
    totals = manifest["totals"]
    assert set(totals["dirt"]["bad_by_kind"]) == set(BAD_KINDS)
    expected = Counter()
    for kind, n in totals["dirt"]["bad_by_kind"].items():
        expected[BAD_KINDS[kind][1]] += n
    reasons = dict(totals["dead_letter_reasons"])
    reasons.pop("event_id.conflict")
    assert reasons == dict(expected)


def test_all_sources_and_types_present(run):
    manifest, _ = run
    by_type = manifest["totals"]["by_type"]
    for source, types in TYPES.items():
        for type_ in types:
            assert by_type.get(f"{source}/{type_}", 0) > 0, f"{source}/{type_}"


def test_dirt_rates_and_realism(run, registry):
    manifest, files = run
    totals = manifest["totals"]
    dirt = totals["dirt"]
    assert 0.006 < dirt["exact_resend"] / N < 0.014
    assert 0.003 < dirt["bad"] / N < 0.008
    assert dirt["conflicting_resend"] > 0 and dirt["correction"] > 0 and dirt["retraction"] > 0
    by_type = totals["by_type"]
    filed, transferred = by_type["inspection/case.filed"], by_type["inspection/case.transferred"]
    assert 0.6 < filed / transferred < 0.9
    campaign = load_campaign()
    weeks: Counter[int] = Counter()
    arrears_rows: Counter[str] = Counter()
    flags = Counter()
    from contracts.industry import row_of_division

    for _, lines in files:
        for line in lines[::7]:
            try:
                event = parse_event(line, registry)
            except ValidationError:
                continue
            if event.type != "event.retracted":
                assert campaign.in_window(event.occurred_at)
            assert event.occurred_at.utcoffset() == dt.timedelta(hours=8)
            weeks[(event.occurred_at - campaign.window_start).days // 7] += 1
            payload = event.payload
            if event.type == "arrears.verified":
                arrears_rows[
                    "construction"
                    if payload.project
                    else row_of_division(payload.employer.industry.division)
                ] += 1
            if getattr(payload, "project", None) is not None:
                flags["gov"] += payload.project.government_investment
                flags["soe"] += payload.project.soe
                flags["both"] += payload.project.government_investment and payload.project.soe
            flags["nef"] += bool(getattr(payload, "new_employment_form", False))
            if event.type == "lead.received":
                flags[payload.intake] += 1
            if event.type == "dispute.resolved":
                flags[payload.channel] += 1
            if event.type == "arrears.resolved":
                flags[payload.channel] += 1
    # rising toward the Spring Festival
    assert weeks[11] > 1.5 * weeks[0]
    assert arrears_rows.most_common(1)[0][0] == "construction"
    for key in (
        "gov",
        "soe",
        "both",
        "nef",
        "national_platform",
        "hotline",
        "petition",
        "centralized_reception",
        "mediation",
        "arbitration",
        "inspection",
        "industry_regulator",
    ):
        assert flags[key] > 0, key


def test_some_cases_of_other_industries_are_on_a_project_with_follow_ups(run, registry):
    """SPEC 4.1: their orders, transfers and filings count in 建筑业 through the case."""
    from contracts.fold import FOLLOW_UP, ON_PROJECT, case_link, contributions, own_row

    on_project: set[tuple[str, str]] = set()
    follow_ups: list[tuple[tuple[str, str], str | None]] = []
    for _, lines in run[1]:
        for line in lines:
            try:
                event = parse_event(line, registry)
            except ValidationError:
                continue
            link = case_link(event)
            if link is None:
                continue
            if link.role == ON_PROJECT:
                on_project.add((event.unit, link.case))
            elif link.role == FOLLOW_UP:
                follow_ups.append(((event.unit, link.case), own_row(contributions(event))))
    moved = [row for case, row in follow_ups if case in on_project and row != "construction"]
    assert len(moved) > 10, len(moved)


def test_memory_stays_flat(tmp_path, registry):
    def peak(n: int) -> int:
        tracemalloc.start()
        try:
            generate(
                GenerateOptions(unit="320400", events=n, seed=3, out=tmp_path / "m.jsonl"),
                registry=registry,
            )
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(20_000), peak(100_000)
    assert large < 40 * 2**20, f"peak {large / 2**20:.1f} MiB for 100k events"
    assert large < 1.5 * small + 4 * 2**20, (small, large)


# --- the command ---


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="arrears")
    generate_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["generate", *argv])
    return args.func(args)


def test_registered_in_the_cli():
    from pipeline import cli as cli_module

    assert "pipeline.commands.generate" in cli_module.COMMAND_MODULES


def test_command_writes_file_and_manifest(tmp_path):
    out = tmp_path / "c.jsonl"
    assert (
        cli(
            [
                "--unit",
                "320412",
                "--events",
                "500",
                "--seed",
                "2",
                "--out",
                str(out),
                "--split-at",
                "2024-12-31T17:30:00+08:00",
            ]
        )
        == 0
    )
    manifest = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    assert manifest["generator"]["units"] == ["320412"]
    assert sum(f["lines"] for f in manifest["files"]) == 500
    assert (tmp_path / "c.after-split.jsonl").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--events", "-1"], "--events must be >= 0"),
        (["--events", "10", "--split-at", "2024-12-31T17:30:00"], "with an offset"),
        (["--events", "10", "--unit", "329999"], "329999"),
    ],
)
def test_command_errors(tmp_path, argv, message):
    with pytest.raises(CliError, match=message) as err:
        cli([*argv, "--out", str(tmp_path / "x.jsonl")])
    assert err.value.exit_code == 2


def test_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(CliError, match="does not exist"):
        cli(["--events", "10", "--out", str(tmp_path / "nope" / "x.jsonl")])
