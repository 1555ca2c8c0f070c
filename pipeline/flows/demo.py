"""The December story end to end: every step a real `arrears` command on the local broker.

The story's steps, in order, and what each checks; how a step runs (a child process
with its own log) is `pipeline.flows.demo_run`. The demo works in a run folder of its
own, with a topic prefix of its own, so running it again never mixes two stories.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from infra.admin import ensure_topics
from infra.broker import LocalBroker
from infra.errors import InfraError
from infra.settings import Settings
from infra.topics import run_prefix
from pipeline.flows.demo_gate import (
    check_and_submit,
    corrected_snapshot,
    dismiss_the_rest,
    fix_dead_letters,
)
from pipeline.flows.demo_run import (
    Demo,
    StepFailed,
    default_filed_on,
    last_lines,
    latest_snapshot,
    summary,
    workbook_argv,
)
from pipeline.flows.demo_supervision import supervision_steps

CLOSE_OF_BUSINESS = "2024-12-31T17:30:00+08:00"  # districts report to the city (SPEC 2)
CUTOFF = "2024-12-31"


def run_demo(
    run_dir: Path,
    *,
    events: int,
    seed: int,
    workers: int,
    console: Console,
    base: Settings,
    quality_config: Path | None = None,
    filed_on: dt.date | None = None,
    quiet: bool = False,
    unit: str = "320400",
) -> int:
    """Run the December story; return 0 when every step succeeded (the last snapshot
    submitted). `quality_config` is handed to `check` and `submit` (`--config`); `quiet`
    prints the summary alone."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "logs").mkdir(exist_ok=True)
    started = time.monotonic()
    if not quiet:
        console.print(f"[bold]The December story[/]: run folder {run_dir}")

    # 1. The broker: the user's own local broker (or the configured cluster).
    try:
        if base.external:
            bootstrap = base.bootstrap_servers
        else:
            info = LocalBroker(base).start(
                say=lambda m: None if quiet else console.print(f"    [dim]{m}[/]")
            )
            bootstrap = info.bootstrap
    except InfraError as err:
        raise StepFailed(f"step 0 (broker) failed: {err}") from err
    run_id = run_dir.name
    settings = base.with_overrides(
        bootstrap_servers=bootstrap,
        topic_prefix=run_prefix("demo", run_id),
        state_dir=run_dir / "state",
    )
    demo = Demo(
        run_dir, settings, events, seed, console, worker_count=workers, quiet=quiet, unit=unit
    )
    demo.outputs["run folder"] = run_dir
    demo.note(
        "broker", f"Kafka at {bootstrap}; this run's topics start with {settings.topic_prefix}"
    )
    try:
        _story(demo, bootstrap, quality_config, filed_on or default_filed_on())
    finally:
        demo.stop_workers()
    summary(demo, time.monotonic() - started, local_broker=not base.external)
    return 0


def _story(demo: Demo, bootstrap: str, quality_config: Path | None, filed_on: dt.date) -> None:
    s = demo.settings
    created = ensure_topics(bootstrap, s)
    demo.note("topics", f"created {len(created)} declared topics")

    data = demo.run_dir / "data"
    data.mkdir(exist_ok=True)
    campaign = data / f"campaign-{demo.unit}.jsonl"
    demo.arrears(
        "generate",
        "generate",
        "--unit",
        demo.unit,
        "--events",
        str(demo.events),
        "--seed",
        str(demo.seed),
        "--split-at",
        CLOSE_OF_BUSINESS,
        "--lead-waves",
        "3",
        "--out",
        str(campaign),
        "--quiet",
    )
    manifest = json.loads(Path(f"{campaign}.manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    before, after = (data / Path(f["path"]).name for f in files[:2])
    totals = manifest["totals"]
    demo.note(
        "generate",
        f"{totals['lines']} lines for the units of {demo.unit}: "
        f"{totals['dirt']['exact_resend']} exact resends, {totals['dirt']['conflicting_resend']} "
        f"conflicting resends, {totals['dirt']['correction']} corrections, "
        f"{totals['dirt']['retraction']} retractions, {totals['dirt']['late_arrival']} late "
        f"arrivals, {totals['dirt']['bad']} bad records",
    )
    demo.outputs["campaign files"] = data

    _ingest(demo, "ingest (to 12-31 close of business)", before, files[0])
    demo.start_workers(demo.worker_count)
    demo.arrears("archive", "archive", "--until-end", "--quiet")
    demo.wait_for_workers(bootstrap)

    demo.arrears(
        "snapshot (close of business)",
        "snapshot",
        "--cutoff",
        CUTOFF,
        "--label",
        "close-of-business",
        "--quiet",
    )
    root = s.state_dir / "snapshots"
    first = latest_snapshot(root, "close-of-business")
    demo.outputs["snapshot, 12-31 close of business"] = first
    live = demo.arrears(
        "live form = snapshot?", "form", "--unit", demo.unit, "--cutoff", CUTOFF, "--json"
    )
    _compare_live(demo, live, first)

    _ingest(demo, "ingest (January: late events, corrections)", after, files[1], "--skip-known")
    demo.arrears("archive", "archive", "--until-end", "--quiet")
    demo.wait_for_workers(bootstrap)
    demo.arrears(
        "snapshot (restated)", "snapshot", "--cutoff", CUTOFF, "--label", "restated", "--quiet"
    )
    second = latest_snapshot(root, "restated")
    demo.outputs["snapshot, 12-31 restated"] = second
    live = demo.arrears(
        "live form = restated snapshot?", "form", "--unit", demo.unit, "--cutoff", CUTOFF, "--json"
    )
    _compare_live(demo, live, second)
    demo.arrears(
        "snapshot (live)",
        "snapshot",
        "--cutoff",
        CUTOFF,
        "--from",
        "live",
        "--label",
        "live",
        "--quiet",
    )
    live_snapshot = latest_snapshot(root, "live")
    demo.outputs["snapshot, 12-31 from the live tallies"] = live_snapshot
    _compare_live_snapshot(demo, live_snapshot, second)

    diff = demo.arrears("diff", "diff", str(first), str(second))
    (demo.run_dir / "diff.txt").write_text(diff, encoding="utf-8")
    demo.outputs["diff of the two snapshots"] = demo.run_dir / "diff.txt"
    headline = next(
        (line for line in diff.splitlines() if line.startswith("diff ")), "no difference"
    )
    demo.note("diff", headline)

    # The gate, as an operator goes through it: refused, fix, dismiss, check again, submitted.
    config = ("--config", str(quality_config)) if quality_config is not None else ()
    result = check_and_submit(demo, second, first, config, name="restated")
    submitted = second
    if not result["passed"]:
        fix_dead_letters(demo)
        dismiss_the_rest(demo)
        submitted = corrected_snapshot(demo, bootstrap, CUTOFF)
        demo.outputs["snapshot, 12-31 corrected (fixed and dismissed dead letters)"] = submitted
        if not check_and_submit(demo, submitted, first, config, name="corrected")["passed"]:
            raise StepFailed(
                f"the corrected snapshot {submitted.name} was refused too; see its verdict "
                f"page {submitted / 'quality' / 'index.html'}"
            )
        demo.submitted_label = "corrected"
    demo.outputs["Data Docs (the submitted snapshot)"] = (
        submitted / "quality" / "data_docs" / "index.html"
    )
    demo.outputs["submitted.json"] = submitted.parent / "submitted.json"

    workbook = demo.run_dir / "report-2024-12-31.xlsx"
    demo.arrears("report (xlsx)", *workbook_argv(str(submitted), [demo.unit], workbook, filed_on))
    demo.outputs["workbook (附件2, one sheet per unit)"] = workbook
    table = demo.arrears(
        "report (table)", "report", str(submitted), "--unit", demo.unit, "--format", "table"
    )
    demo.say(table)

    supervision_steps(demo, second, first, manifest.get("lead_waves", {}).get("waves", []))

    demo.arrears("replay --verify (Kafka)", "replay", "--verify", str(first), "--from", "kafka")
    demo.note(
        "replay",
        "the close-of-business snapshot rebuilt from Kafka at its offsets: equal, cell for cell",
    )
    demo.arrears(
        "replay --verify (archive)", "replay", "--verify", str(submitted), "--from", "archive"
    )
    demo.note(
        "replay",
        f"the submitted snapshot {submitted.name} rebuilt from the Parquet archive: equal, "
        "cell for cell",
    )
    demo.arrears(
        "replay --verify (live)", "replay", "--verify", str(live_snapshot), "--from", "kafka"
    )
    demo.note(
        "replay",
        "the live snapshot rebuilt from Kafka at the offsets the workers reported: "
        "equal, cell for cell",
    )

    letters = demo.arrears("dead letters", "deadletters", "list", "--limit", "5")
    demo.note("dead letters", last_lines(letters, 1))


def _ingest(demo: Demo, step: str, path: Path, expected: dict[str, Any], *flags: str) -> None:
    """Ingest one file and check its summary against the generator's manifest for it."""
    summary_file = demo.logs / f"{path.stem}.ingest-summary.json"
    demo.arrears(
        step, "ingest", "--quiet", *flags, "--summary-json", str(summary_file), str(path), ok=(0, 3)
    )
    got = json.loads(summary_file.read_text(encoding="utf-8"))
    dirt = expected["dirt"]
    want = {
        "accepted": expected["events"],
        "duplicates": dirt["exact_resend"],
        "rejected_by_reason": expected["dead_letter_reasons"],
    }
    have = {k: got[k] for k in want}
    if have != want:
        raise StepFailed(
            f"{step}: ingest's summary disagrees with the generator's manifest for {path.name}: "
            f"ingest {json.dumps(have, sort_keys=True)} "
            f"vs manifest {json.dumps(want, sort_keys=True)}"
        )
    demo.note(
        "ingest",
        f"{path.name}: {got['accepted']} accepted, {got['duplicates']} duplicates "
        f"skipped, {got['rejected']} dead-lettered ({len(got['rejected_by_reason'])} reasons): "
        "exactly the manifest's counts",
    )


def _compare_live(demo: Demo, live_json: str, snapshot: Path) -> None:
    import polars as pl

    live: dict[str, Any] = json.loads(live_json)
    figures = live["cells"]
    cells = pl.read_parquet(snapshot / "cells.parquet").filter(
        (pl.col("unit") == demo.unit) & (pl.col("scope") == "rollup")
    )
    stored = dict(zip(cells["cell"].to_list(), cells["value"].to_list(), strict=True))
    differ = sorted(c for c in stored if int(figures.get(c, 0)) != stored[c])
    if differ:
        raise StepFailed(
            f"the live tallies and the snapshot {snapshot.name} disagree in {len(differ)} cells of "
            f"{demo.unit}: {', '.join(differ[:8])}; see {demo.logs}"
        )
    demo.note(
        "three paths",
        f"live Faust tallies = snapshot {snapshot.name} for {demo.unit}, all {len(stored)} cells",
    )


def _compare_live_snapshot(demo: Demo, live: Path, replayed: Path) -> None:
    """The snapshot cut from the workers' tallies against the one replayed from Kafka."""
    from warehouse.snapshot import compare, load_snapshot

    a, b = load_snapshot(live), load_snapshot(replayed)
    differ = compare(a.cells(), b.cells())
    if differ:
        raise StepFailed(
            f"the live snapshot {live.name} and the snapshot {replayed.name} disagree in "
            f"{len(differ)} cells, e.g. {differ[0]}; see {demo.logs}"
        )
    where = (
        "at the same offsets"
        if a.offsets == b.offsets
        else "the workers' offsets differ from the replay's, yet the figures agree"
    )
    demo.note(
        "three paths",
        f"live snapshot {live.name} = snapshot {replayed.name}, every unit "
        f"and cell ({a.cells().height} rows), {where}",
    )
