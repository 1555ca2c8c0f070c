"""One run of the demo: its folder, each step an `arrears` child process with its own log,
the Faust workers, and the summary at the end.

Each step runs as a child process (`python -m pipeline.cli ...`) with its own
log file, so a failure names the step and its log, and the demo exercises
exactly what a user types.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rich.console import Console

from contracts.calendar import load_campaign
from contracts.clock import CST
from infra.admin import cluster_status
from infra.settings import Settings
from infra.topics import SOURCES, source_topic
from pipeline.errors import CliError

__all__ = [
    "StepFailed",
    "Demo",
    "latest_snapshot",
    "last_lines",
    "summary",
    "default_run_dir",
    "default_filed_on",
    "workbook_argv",
]


def default_filed_on() -> dt.date:
    """The demo's 填报时间: the day Changzhou's progress report (a city's, cutoff 12-31) is due
    to the province in the shipped campaign calendar (2025-01-03), not the machine's date."""
    due = next(
        d.due for d in load_campaign().due_dates() if (d.level, d.cutoff) == ("city", "progress")
    )
    return due.astimezone(CST).date()


def workbook_argv(snapshot: str, units: list[str], out: Path, filed_on: dt.date) -> list[str]:
    """The `arrears report` arguments of the demo's workbook: one sheet per unit and one for
    each of its direct children (Changzhou's 7 units; the province's 13 cities)."""
    return [
        "report",
        snapshot,
        *[a for u in units for a in ("--unit", u)],
        "--children",
        "--format",
        "xlsx",
        "--out",
        str(out),
        "--filed-on",
        filed_on.isoformat(),
    ]


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
    #: the unit whose campaign is generated and whose form is checked and printed
    unit: str = "320400"
    timings: list[tuple[str, float]] = field(default_factory=list)
    step_no: int = 0
    #: --quiet: no progress (the steps as they run, their findings); the summary stays
    quiet: bool = False
    #: the label of the snapshot the gate accepted, for the commands to go on by hand
    submitted_label: str = "restated"

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
        log = self.logs / f"{self.step_no:02d}-{_plain(name)}.log"
        argv = [sys.executable, "-m", "pipeline.cli", *args]
        self.say(f"[bold cyan]{self.step_no:>2}. {name}[/]  [dim]arrears {' '.join(args)}[/]")
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
        self.say(f"    [green]done[/] in {elapsed:.1f}s (exit {done.returncode}, log {log})")
        return stdout

    def note(self, step: str, finding: str) -> None:
        self.findings.append((step, finding))
        self.say(f"    {finding}")

    def say(self, text: str) -> None:
        """Progress, as the story goes (nothing with --quiet: the summary has the findings)."""
        if not self.quiet:
            self.console.print(text)

    # -- workers ----------------------------------------------------------------------
    def start_workers(self, count: int) -> None:
        self.step_no += 1
        self.say(f"[bold cyan]{self.step_no:>2}. workers[/]  [dim]{count} x arrears worker[/]")
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
                    self.say("    workers caught up (consumer-group lag 0)")
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


def last_lines(text: str, n: int) -> str:
    """The last `n` non-blank lines of a step's output, joined on one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-n:])


def _plain(name: str) -> str:
    """A step's name as a file name: lower-case letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "step"


def summary(demo: Demo, seconds: float, *, local_broker: bool = True) -> None:
    """Print the run's outputs, its slowest steps, what each step found, and how to go on
    by hand with this run's settings."""
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
    gate = [finding for step, finding in demo.findings if step == "submit"]
    if gate:
        demo.console.print("[bold]The gate[/]:")
        for finding in gate:
            demo.console.print(f"  {finding}", soft_wrap=True, highlight=False, markup=False)
        for what, where in demo.outputs.items():
            if what.startswith("verdict page"):
                demo.console.print(f"  {what}: {where}", soft_wrap=True, highlight=False)
    settings = demo.settings
    demo.console.print("[bold]Continue by hand[/] with this run's settings:")
    exports = (
        f"ARREARS_STATE_DIR={shlex.quote(str(settings.state_dir))} "
        f"ARREARS_TOPIC_PREFIX={shlex.quote(settings.topic_prefix)} "
        f"ARREARS_BOOTSTRAP_SERVERS={shlex.quote(settings.bootstrap_servers)}"
    )
    for line in (
        f"export {exports}",
        "arrears replay --verify 2024-12-31@close-of-business",
        "arrears diff 2024-12-31@close-of-business 2024-12-31@restated",
        f"arrears report 2024-12-31@{demo.submitted_label} --unit {demo.unit} --format table",
    ):
        demo.console.print(f"  {line}", soft_wrap=True, highlight=False, markup=False)
    demo.console.print(
        f"To delete this run's topics: arrears infra clean --prefix "
        f"{shlex.quote(settings.topic_prefix)}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    if local_broker:
        demo.console.print(
            "The local broker is still running (`arrears infra status`); stop it with "
            "`arrears infra down` in a shell without the exports above.",
            highlight=False,
        )


def default_run_dir(base: Path) -> Path:
    """A new run folder under `base`, named by the local time."""
    return base / datetime.now().strftime("%Y%m%d-%H%M%S")
