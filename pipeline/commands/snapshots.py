"""`arrears snapshots list [--cutoff D]`: the snapshots under the root, what each is and
whether it was checked and submitted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from contracts.calendar import load_campaign
from contracts.cutoff import CutoffError, parse_cutoff
from infra.settings import Settings
from pipeline.errors import CliError, ExitCode
from pipeline.output import add_json, print_json, table_box
from warehouse.errors import WarehouseError
from warehouse.snapshot import Snapshot, list_snapshots

#: Beside a snapshot's cells: its check result; in its cutoff folder: the submissions
#: (written by `arrears check` and `arrears submit`).
_CHECK_RESULT = Path("quality") / "check-result.json"
_SUBMITTED = "submitted.json"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "snapshots",
        help="list the snapshots: id, cutoff, label, source, created, events, checked, submitted",
        description=(
            "List the snapshots under the snapshot root, oldest first: id, cutoff, label, "
            "where the figures came from (kafka, archive, live), when it was cut, how many "
            "events it reflects, the verdict of its last `arrears check` and the units it was "
            "submitted for. `arrears snapshots` alone is `arrears snapshots list`. Any id "
            "(or a unique start of one) names the snapshot in report, check, diff and replay."
        ),
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    listing = actions.add_parser("list", help="the snapshots, oldest first")
    for p in (parser, listing):
        p.add_argument(
            "--cutoff",
            metavar="DATE",
            help="only snapshots of this cutoff (a date, an ISO time or a campaign cutoff name)",
        )
        p.add_argument(
            "--root",
            type=Path,
            metavar="DIR",
            help="snapshot root (default: <state dir>/snapshots)",
        )
        add_json(p, "one JSON array, a snapshot an object")
        p.set_defaults(func=run_list)


def describe(snap: Snapshot) -> dict[str, Any]:
    """One snapshot as `snapshots list --json` prints it (README, "JSON output")."""
    meta = snap.meta
    return {
        "id": snap.id,
        "cutoff": meta.get("cutoff"),
        "label": meta.get("label"),
        "source": meta.get("source"),
        "created_at": meta.get("created_at"),
        "events": meta.get("event_count"),
        "checked": _checked(snap.path),
        "submitted_for": _submitted_for(snap),
        "path": str(snap.path),
    }


def print_snapshot(snap: Snapshot) -> int:
    """`snapshot --json`: the snapshot written, as `snapshots list --json` shows it."""
    print_json(describe(snap))
    return 0


def _checked(path: Path) -> str | None:
    """ "passed", "failed" (a critical expectation), or None when never checked."""
    try:
        body = json.loads((path / _CHECK_RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or "passed" not in body:
        return None
    return "passed" if body["passed"] else "failed"


def _submitted_for(snap: Snapshot) -> list[str]:
    """The units whose submitted snapshot (for this cutoff) this one is."""
    try:
        body = json.loads((snap.path.parent / _SUBMITTED).read_text(encoding="utf-8"))
        units = body["units"]
        return sorted(u for u, entry in units.items() if entry.get("snapshot") == snap.path.name)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


#: Narrower than this, each snapshot is its id on a line and what it is on the next.
_TABLE_WIDTH = 130


def _print_stacked(console: Console, root: Path, rows: list[dict[str, Any]]) -> None:
    console.print(f"{len(rows)} snapshot(s) under", style="italic")
    console.print(str(root), soft_wrap=True, highlight=False)
    for row in rows:
        events = "? events" if row["events"] is None else f"{row['events']:,} events"
        checked = f"check {row['checked']}" if row["checked"] else "not checked"
        submitted = (
            f"submitted for {', '.join(row['submitted_for'])}"
            if row["submitted_for"]
            else "not submitted"
        )
        created = str(row["created_at"] or "?")[:16].replace("T", " ")
        console.print(row["id"], style="bold", soft_wrap=True, highlight=False)
        console.print(
            Padding(
                Text(
                    f"cutoff {row['cutoff']}, from {row['source']}, cut {created}, {events}, "
                    f"{checked}, {submitted}"
                ),
                (0, 0, 0, 4),
            )
        )


def run_list(args: argparse.Namespace) -> int:
    root: Path = args.root or Settings.from_env().state_dir / "snapshots"
    folder = None
    if args.cutoff is not None:
        try:
            folder = parse_cutoff(args.cutoff, load_campaign()).dir_name
        except CutoffError as err:
            raise CliError(str(err), ExitCode.USAGE) from err
    try:
        rows = [describe(s) for s in list_snapshots(root, folder)]
    except WarehouseError as err:
        raise CliError(str(err)) from err
    if args.json:
        print_json(rows)
        return 0
    console = Console()
    if not rows:
        console.print(f"no snapshots under {root}; cut one with `arrears snapshot`")
        return 0
    if console.width < _TABLE_WIDTH:
        _print_stacked(console, root, rows)
        return 0
    table = Table(
        title=f"{len(rows)} snapshot(s) under {root}",
        title_justify="left",
        box=table_box(console),
    )
    table.add_column("id", no_wrap=True)
    table.add_column("cutoff", overflow="fold")
    table.add_column("source", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("events", justify="right", no_wrap=True)
    table.add_column("checked", no_wrap=True)
    table.add_column("submitted", overflow="fold")
    for row in rows:
        created = str(row["created_at"] or "")[:16].replace("T", " ")
        events = "?" if row["events"] is None else f"{row['events']:,}"
        table.add_row(
            row["id"],
            str(row["cutoff"]),
            str(row["source"]),
            created,
            events,
            row["checked"] or "-",
            ", ".join(row["submitted_for"]) or "-",
        )
    console.print(table)
    return 0


def topics_of(snapshot: Snapshot, default: list[str]) -> list[str]:
    """The source topics a snapshot was cut from, as its offset vector names them (a demo's
    carry its own prefix), so replaying or comparing it needs no ARREARS_TOPIC_PREFIX;
    `default` (the configured topics) for a snapshot that names none."""
    named = sorted(snapshot.offsets)
    return named or default
