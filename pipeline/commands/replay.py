"""`arrears replay`: rebuild a snapshot from the log, and prove it equal to a stored one."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from contracts.cutoff import Cutoff
from pipeline.commands.snapshot import Context, add_common, add_cutoff, offsets_arg
from pipeline.commands.snapshots import topics_of
from pipeline.errors import CliError, ExitCode
from pipeline.output import add_json, print_json
from warehouse.batch import BatchRebuild
from warehouse.errors import WarehouseError
from warehouse.offsets import OFFSETS_HELP, format_offsets, offsets_to_json
from warehouse.replay import Rebuilt
from warehouse.snapshot import Snapshot, compare, resolve_snapshot, write_snapshot
from warehouse.supervision import LEDGER_FILE


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "replay",
        help="rebuild a snapshot from the log (Kafka or archive); --verify against a stored one",
        description=(
            "Replay the source topics (or the archive: a batch recompute through the same "
            "fold) up to an offset vector or to the end, and rebuild every unit's figures at "
            "--cutoff. With --verify SNAPSHOT, rebuild to that snapshot's offsets (unless --to "
            "says otherwise) and its cutoff, and prove the two equal row for row; every "
            "differing cell is named (unit, scope, cell, stored, rebuilt). Replaying to the "
            "end shows the restated figures; --save keeps them as a snapshot.\n\n"
            f"OFFSETS: {OFFSETS_HELP}."
        ),
        codes=(ExitCode.MISMATCH,),
    )
    add_cutoff(parser, required=False)
    parser.add_argument(
        "--to",
        metavar="OFFSETS|end",
        help="replay up to this offset vector (default: end, or the verified snapshot's offsets)",
    )
    parser.add_argument(
        "--from",
        dest="source",
        choices=("kafka", "archive"),
        default="kafka",
        help="the log to replay: Kafka (default) or the Parquet archive",
    )
    parser.add_argument(
        "--verify",
        metavar="SNAPSHOT",
        help="a snapshot directory, CUTOFF/ID, ID or CUTOFF@latest|LABEL",
    )
    parser.add_argument(
        "--save", action="store_true", help="write the rebuilt figures as a new snapshot"
    )
    parser.add_argument("--label", help="label of the saved snapshot (with --save)")
    add_common(parser)
    add_json(parser, "the rebuild's counts and, with --verify, every differing cell")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ctx = Context(args)
    stored = None
    if args.verify:
        try:
            stored = resolve_snapshot(args.verify, ctx.root)
        except WarehouseError as err:
            raise CliError(str(err), ExitCode.USAGE) from err
    if args.cutoff is None and stored is None:
        raise CliError("give --cutoff (or --verify SNAPSHOT, whose cutoff is used)", ExitCode.USAGE)
    cutoff = ctx.cutoff(args.cutoff or (stored.cutoff if stored else ""))
    if stored is not None and cutoff.iso() != stored.cutoff:
        raise CliError(
            f"--cutoff {cutoff.iso()} differs from the snapshot's cutoff "
            f"{stored.cutoff}; drop --cutoff to use the snapshot's",
            ExitCode.USAGE,
        )
    # With --json the notes go to standard error: standard output is the JSON alone.
    console = Console(soft_wrap=True, highlight=False, stderr=args.json)
    if stored is not None:
        _use_registry_of(stored, ctx, console)
        ctx.topics = topics_of(stored, ctx.topics)
    if args.to is not None:
        upto = offsets_arg(args.to, "--to")
    else:
        upto = stored.offsets if stored is not None else None
    rebuilt = ctx.rebuild(args.source, upto)
    cells = rebuilt.cells(cutoff)
    r = rebuilt.rebuild
    report: dict[str, Any] = {
        "source": rebuilt.source,
        "cutoff": cutoff.iso(),
        "offsets": offsets_to_json(rebuilt.offsets),
        "events": r.events,
        "duplicates": r.outcomes["duplicate"],
        "conflicts": r.outcomes["conflict"],
        "invalid": r.invalid,
        "saved": None,
        "verified": None,
        "equal": None,
        "differences": [],
        "views_differ": [],
    }
    console.print(
        f"rebuilt from {rebuilt.source} to {format_offsets(rebuilt.offsets) or '(empty)'}"
        f": {r.events:,} events, {r.outcomes['duplicate']:,} duplicates, "
        f"{r.outcomes['conflict']:,} conflicts, {r.invalid:,} invalid records skipped",
        highlight=False,
        soft_wrap=True,
    )
    if args.save:
        try:
            snap = write_snapshot(
                ctx.root,
                cutoff,
                cells,
                rebuilt.offsets,
                source=rebuilt.source,
                event_count=r.events,
                label=args.label,
                registry=ctx.registry,
            )
        except WarehouseError as err:
            raise CliError(str(err)) from err
        console.print(f"saved as snapshot {snap.id}: {snap.path}", highlight=False, soft_wrap=True)
        report["saved"] = snap.id
    if stored is None:
        if args.json:
            print_json(report)
        return 0
    try:
        diffs = compare(stored.cells(), cells)
        views = _views_differ(ctx, stored, rebuilt, cutoff)
    except WarehouseError as err:
        raise CliError(str(err)) from err
    if args.json:
        report.update(
            verified=stored.id,
            equal=not diffs and not views,
            differences=[
                {
                    "unit": d.unit,
                    "scope": d.scope,
                    "cell": d.cell,
                    "stored": d.stored,
                    "rebuilt": d.rebuilt,
                }
                for d in diffs
            ],
            views_differ=views,
        )
        print_json(report)
        return ExitCode.MISMATCH if diffs or views else ExitCode.OK
    for line in views:
        print(f"MISMATCH: {line}")
    if not diffs and views:
        return ExitCode.MISMATCH
    if not diffs:
        console.print(
            f"verified: snapshot {stored.id} equals the rebuild row for row "
            f"({cells.height:,} rows, cutoff {stored.cutoff})"
            + ("; its hotspots and ledger too" if stored.table(LEDGER_FILE) is not None else ""),
            highlight=False,
        )
        if stored.meta.get("event_count") not in (None, r.events):
            console.print(
                f"note: the snapshot counted {stored.meta['event_count']:,} events, "
                f"the rebuild {r.events:,}",
                highlight=False,
            )
        return 0
    print(f"MISMATCH: {len(diffs)} cell(s) of snapshot {stored.id} differ from the rebuild:")
    print("unit\tscope\tcell\tstored\trebuilt")
    for d in diffs:
        print(f"{d.unit}\t{d.scope}\t{d.cell}\t{_show(d.stored)}\t{_show(d.rebuilt)}")
    return ExitCode.MISMATCH


def _views_differ(ctx: Context, stored: Snapshot, rebuilt: Rebuilt, cutoff: Cutoff) -> list[str]:
    """The stored hotspots and ledger against the rebuild's (nothing when the snapshot
    stores none); computed with the window the snapshot recorded."""
    from pipeline.flows.supervision import rules_of
    from warehouse.supervision import HOTSPOTS_FILE, compare_tables, supervise_rebuild

    kept = {name: stored.table(name) for name in (HOTSPOTS_FILE, LEDGER_FILE)}
    if all(frame is None for frame in kept.values()):
        return []
    if not isinstance(rebuilt.rebuild, BatchRebuild):
        return ["the record-by-record rebuild cannot check the stored hotspots and ledger"]
    window = (stored.meta.get("supervision") or {}).get("window_days")
    rules = rules_of(ctx, window if isinstance(window, int) else None)
    archive = ctx.archive if rebuilt.source == "archive" else None
    sup = supervise_rebuild(rebuilt.rebuild, cutoff, rules, archive=archive)
    return compare_tables(kept, sup)


def _show(value: int | None) -> str:
    return "(missing)" if value is None else str(value)


def _use_registry_of(stored: Snapshot, ctx: Context, console: Console) -> None:
    """Verify with the registry the snapshot was cut with, saying so when today's differs."""
    try:
        kept = stored.registry()
    except WarehouseError as err:
        raise CliError(str(err)) from err
    if kept is None:
        console.print(
            f"note: snapshot {stored.id} does not record its unit registry; verifying with "
            f"the current one ({ctx.registry.source})"
        )
    elif kept.fingerprint() != ctx.registry.fingerprint():
        added = {u.code for u in ctx.registry} - {u.code for u in kept}
        removed = {u.code for u in kept} - {u.code for u in ctx.registry}
        console.print(
            f"note: the unit registry differs from the one snapshot {stored.id} was cut with "
            f"({len(added)} units added, {len(removed)} removed, others changed otherwise); "
            "verifying with the snapshot's own registry"
        )
        ctx.registry = kept
