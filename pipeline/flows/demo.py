"""The December story end to end: every step a real `arrears` command on the local broker.

Each step runs as a child process (`python -m pipeline.cli ...`) with its own
log file, so a failure names the step and its log, and the demo exercises
exactly what a user types. The demo works in a run folder of its own, with a
topic prefix of its own, so running it again never mixes two stories.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from infra.admin import cluster_status, ensure_topics
from infra.broker import LocalBroker
from infra.errors import InfraError
from infra.settings import Settings
from infra.topics import SOURCES, source_topic
from pipeline.errors import CliError

CLOSE_OF_BUSINESS = "2024-12-31T17:30:00+08:00"  # districts report to the city (SPEC 2)
CUTOFF = "2024-12-31"


class StepFailed(CliError):
    """A step of the demo failed; the message names it and its log."""


@dataclass
class Demo:
    """State of one run: where things are, and what each step found."""

    run_dir: Path
    settings: Settings
    events: int
    seed: int
    console: Console
    findings: list[tuple[str, str]] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker_count: int = 2
    timings: list[tuple[str, float]] = field(default_factory=list)
    step_no: int = 0

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.settings.to_env())
        env.pop("ARREARS_CONFIG", None)
        return env

    # -- running commands -------------------------------------------------------------
    def arrears(
        self, name: str, *args: str, ok: Sequence[int] = (0,), timeout: float = 1800
    ) -> str:
        """Run one `arrears` command as a step; return its standard output."""
        self.step_no += 1
        log = self.logs / f"{self.step_no:02d}-{name}.log"
        argv = [sys.executable, "-m", "pipeline.cli", *args]
        self.console.print(
            f"[bold cyan]{self.step_no:>2}. {name}[/]  [dim]arrears {' '.join(args)}[/]"
        )
        started = time.monotonic()
        with log.open("w", encoding="utf-8") as out:
            out.write(f"$ arrears {' '.join(args)}\n")
            out.flush()
            done = subprocess.run(
                argv,
                env=self.env(),
                stdout=subprocess.PIPE,
                stderr=out,
                timeout=timeout,
                check=False,
            )
            stdout = done.stdout.decode("utf-8", errors="replace")
            out.write(stdout)
        elapsed = time.monotonic() - started
        if done.returncode not in ok:
            tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-15:])
            raise StepFailed(
                f"step {self.step_no} ({name}) failed with exit code {done.returncode}; "
                f"its log is {log}\n{tail}"
            )
        self.timings.append((name, elapsed))
        self.console.print(
            f"    [green]done[/] in {elapsed:.1f}s (exit {done.returncode}, log {log})"
        )
        return stdout

    def note(self, step: str, finding: str) -> None:
        self.findings.append((step, finding))
        self.console.print(f"    {finding}")

    # -- workers ----------------------------------------------------------------------
    def start_workers(self, count: int) -> None:
        self.step_no += 1
        self.console.print(
            f"[bold cyan]{self.step_no:>2}. workers[/]  [dim]{count} x arrears worker[/]"
        )
        for i in range(count):
            log = (self.logs / f"worker-{i + 1}.log").open("wb")
            self.workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "pipeline.cli",
                        "worker",
                        "--worker-id",
                        f"demo-{i + 1}",
                        "--loglevel",
                        "warning",
                    ],
                    env=self.env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
            log.close()
        self.note(
            "workers", f"{count} Faust workers share the partitions (logs {self.logs}/worker-*.log)"
        )

    def wait_for_workers(self, bootstrap: str, timeout: float = 900) -> None:
        """Until the workers' consumer group has committed the end of every source topic."""
        from streams.app import app_id

        group = app_id(self.settings)
        topics = {source_topic(self.settings, s) for s in SOURCES}
        deadline = time.monotonic() + timeout
        lag = -1
        while time.monotonic() < deadline:
            for proc in self.workers:
                if proc.poll() is not None:
                    raise StepFailed(
                        f"a worker exited with code {proc.returncode}; see {self.logs}/worker-*.log"
                    )
            status = cluster_status(bootstrap, self.settings, "")
            ends = sum(t.messages for t in status.topics if t.name in topics)
            mine = [g for g in status.groups if g.group == group]
            if mine and ends:
                lag = sum(n for t, n in mine[0].lag.items() if t in topics)
                covered = {t for t in mine[0].lag} >= topics
                if covered and lag == 0:
                    self.console.print("    workers caught up (consumer-group lag 0)")
                    return
            time.sleep(1.0)
        raise StepFailed(
            f"the workers did not catch up within {timeout:.0f}s (lag {lag}); "
            f"see {self.logs}/worker-*.log"
        )

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.workers.clear()


def latest_snapshot(root: Path, label: str) -> Path:
    """The newest snapshot with `label` under the December cutoff."""
    found = []
    for meta_file in root.glob("*/*/meta.json"):
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("label") == label:
            found.append((meta.get("created_at", ""), meta_file.parent))
    if not found:
        raise StepFailed(f"no snapshot labelled {label} under {root}")
    return sorted(found)[-1][1]


def run_demo(
    run_dir: Path, *, events: int, seed: int, workers: int, console: Console, base: Settings
) -> int:
    """Run the December story; return 0 when every step succeeded."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "logs").mkdir(exist_ok=True)
    started = time.monotonic()
    console.print(f"[bold]The December story[/]: run folder {run_dir}")

    # 1. The broker: the user's own local broker (or the configured cluster).
    try:
        if base.external:
            bootstrap = base.bootstrap_servers
        else:
            info = LocalBroker(base).start(say=lambda m: console.print(f"    [dim]{m}[/]"))
            bootstrap = info.bootstrap
    except InfraError as err:
        raise StepFailed(f"step 0 (broker) failed: {err}") from err
    run_id = run_dir.name
    settings = base.with_overrides(
        bootstrap_servers=bootstrap,
        topic_prefix=f"demo-{run_id}.",
        state_dir=run_dir / "state",
    )
    demo = Demo(run_dir, settings, events, seed, console, worker_count=workers)
    demo.outputs["run folder"] = run_dir
    demo.note(
        "broker", f"Kafka at {bootstrap}; this run's topics start with {settings.topic_prefix}"
    )
    try:
        _story(demo, bootstrap)
    finally:
        demo.stop_workers()
    _summary(demo, time.monotonic() - started)
    return 0


def _story(demo: Demo, bootstrap: str) -> None:
    s = demo.settings
    created = ensure_topics(bootstrap, s)
    demo.note("topics", f"created {len(created)} declared topics")

    data = demo.run_dir / "data"
    data.mkdir(exist_ok=True)
    campaign = data / "changzhou-campaign.jsonl"
    demo.arrears(
        "generate",
        "generate",
        "--unit",
        "320400",
        "--events",
        str(demo.events),
        "--seed",
        str(demo.seed),
        "--split-at",
        CLOSE_OF_BUSINESS,
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
        f"{totals['lines']} lines for Changzhou's units: "
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
        "live form = snapshot?", "form", "--unit", "320400", "--cutoff", CUTOFF, "--json"
    )
    _compare_live(demo, live, first)

    _ingest(demo, "ingest (January: late events, corrections)", after, files[1], "--skip-known")
    _fix_dead_letters(demo)
    demo.arrears("archive", "archive", "--until-end", "--quiet")
    demo.wait_for_workers(bootstrap)
    demo.arrears(
        "snapshot (restated)", "snapshot", "--cutoff", CUTOFF, "--label", "restated", "--quiet"
    )
    second = latest_snapshot(root, "restated")
    demo.outputs["snapshot, 12-31 restated"] = second
    live = demo.arrears(
        "live form = restated snapshot?", "form", "--unit", "320400", "--cutoff", CUTOFF, "--json"
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

    demo.arrears("quality check", "check", str(second), "--previous", str(first), ok=(0, 6))
    demo.outputs["Data Docs"] = second / "quality" / "data_docs" / "index.html"
    result = json.loads((second / "quality" / "check-result.json").read_text(encoding="utf-8"))
    verdict = "passed" if result["passed"] else "a critical expectation failed"
    demo.note(
        "check",
        f"{verdict}; critical: {', '.join(result['critical_failures']) or 'none'}; "
        f"warnings: {', '.join(result['warnings']) or 'none'} (see the Data Docs)",
    )
    demo.arrears("submit (the gate)", "submit", str(second), ok=(0, 6))
    if result["passed"]:
        demo.note(
            "submit",
            f"the restated snapshot is the one submitted for {CUTOFF} "
            f"({second.parent / 'submitted.json'})",
        )
    else:
        demo.note(
            "submit",
            "the gate refused the restated snapshot, as it should: "
            f"{', '.join(result['critical_failures'])}. A real operator fixes those "
            "(e.g. `arrears deadletters export`/`resubmit`) and checks again",
        )

    workbook = demo.run_dir / "report-2024-12-31.xlsx"
    units = ["320400", "320402", "320404", "320411", "320412", "320413", "320481", "320471"]
    demo.arrears(
        "report (xlsx)",
        "report",
        str(second),
        *[a for u in units for a in ("--unit", u)],
        "--format",
        "xlsx",
        "--out",
        str(workbook),
    )
    demo.outputs["workbook (附件2, one sheet per unit)"] = workbook
    table = demo.arrears(
        "report (table)", "report", str(second), "--unit", "320400", "--format", "table"
    )
    demo.console.print(table)

    demo.arrears("replay --verify (Kafka)", "replay", "--verify", str(first), "--from", "kafka")
    demo.note(
        "replay",
        "the close-of-business snapshot rebuilt from Kafka at its offsets: equal, cell for cell",
    )
    demo.arrears(
        "replay --verify (archive)", "replay", "--verify", str(second), "--from", "archive"
    )
    demo.note(
        "replay", "the restated snapshot rebuilt from the Parquet archive: equal, cell for cell"
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
    demo.note("dead letters", _last_lines(letters, 1))


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


def _fix_dead_letters(demo: Demo) -> None:
    """What an operator does with rejected records: export, fix, resubmit (counted once)."""
    export = demo.run_dir / "dead-letters-no-offset.jsonl"
    demo.arrears(
        "dead letters: export",
        "deadletters",
        "export",
        "--reason",
        "occurred_at.no_offset",
        "--out",
        str(export),
    )
    fixed_lines = []
    for line in export.read_text(encoding="utf-8").splitlines():
        letter = json.loads(line)
        record = letter["record"]
        if isinstance(record, dict) and isinstance(record.get("occurred_at"), str):
            record["occurred_at"] += "+08:00"  # the source system's clock is China Standard Time
        fixed_lines.append(json.dumps(letter, ensure_ascii=False))
    fixed = demo.run_dir / "dead-letters-fixed.jsonl"
    fixed.write_text("\n".join(fixed_lines) + "\n", encoding="utf-8")
    demo.arrears(
        "dead letters: resubmit the fixed", "deadletters", "resubmit", str(fixed), ok=(0, 3)
    )
    again = demo.arrears(
        "dead letters: resubmit again", "deadletters", "resubmit", str(fixed), ok=(0, 3)
    )
    demo.note(
        "dead letters",
        f"{len(fixed_lines)} records without a time-zone offset fixed and "
        f"resubmitted; their dead letters are marked resolved; resubmitting again: "
        f"{_last_lines(again, 1)}",
    )


def _compare_live(demo: Demo, live_json: str, snapshot: Path) -> None:
    import polars as pl

    live: dict[str, Any] = json.loads(live_json)
    figures = live["cells"]
    cells = pl.read_parquet(snapshot / "cells.parquet").filter(
        (pl.col("unit") == "320400") & (pl.col("scope") == "rollup")
    )
    stored = dict(zip(cells["cell"].to_list(), cells["value"].to_list(), strict=True))
    differ = sorted(c for c in stored if int(figures.get(c, 0)) != stored[c])
    if differ:
        raise StepFailed(
            f"the live tallies and the snapshot {snapshot.name} disagree in {len(differ)} cells of "
            f"320400: {', '.join(differ[:8])}; see {demo.logs}"
        )
    demo.note(
        "three paths",
        f"live Faust tallies = snapshot {snapshot.name} for 常州市 320400, all {len(stored)} cells",
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


def _last_lines(text: str, n: int) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-n:])


def _summary(demo: Demo, seconds: float) -> None:
    from rich.table import Table

    demo.console.rule(f"The December story: done in {seconds:.0f}s")
    demo.console.print("[bold]Outputs[/]")
    for what, where in demo.outputs.items():
        demo.console.print(f"  {what}:\n    {where}", soft_wrap=True)
    slowest = sorted(demo.timings, key=lambda t: -t[1])[:3]
    demo.console.print("[bold]Slowest steps[/]: " + ", ".join(f"{n} {t:.0f}s" for n, t in slowest))
    findings = Table(title="What each step found")
    findings.add_column("step")
    findings.add_column("finding")
    for step, finding in demo.findings:
        findings.add_row(step, finding)
    demo.console.print(findings)


def default_run_dir(base: Path) -> Path:
    return base / datetime.now().strftime("%Y%m%d-%H%M%S")
