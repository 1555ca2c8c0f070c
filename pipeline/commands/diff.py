"""`arrears diff A B`: what changed between two snapshots, and which events changed it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, cast

from pipeline.commands.snapshot import Context
from pipeline.commands.snapshots import topics_of
from pipeline.errors import CliError, ExitCode
from pipeline.output import add_json, add_quiet, print_json
from warehouse.diff import CellChange, attribute
from warehouse.errors import WarehouseError
from warehouse.rebuild import Rebuild
from warehouse.snapshot import Snapshot, compare, resolve_snapshot


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "diff",
        help="changed cells between two snapshots, and the events that changed each",
        description=(
            "Compare snapshot A with snapshot B (normally two snapshots of one cutoff: the "
            "close-of-business one and a later restated one). For every changed cell, replay "
            "the log to each snapshot's offsets and name the events whose contributions differ: "
            "late arrivals (in B's part of the log but not A's), corrections (supersedes), "
            "superseded and retracted events.\n\n"
            "--scope own (default) lists each change once, at the unit whose events changed it; "
            "--scope rollup lists the rolled-up cells (a city's figures), --scope all both. "
            "Changes found are not an error: the exit code is 0 either way."
        ),
    )
    parser.add_argument(
        "a", metavar="A", help="the earlier snapshot (dir, CUTOFF/ID, ID, CUTOFF@LABEL)"
    )
    parser.add_argument("b", metavar="B", help="the later snapshot")
    parser.add_argument(
        "--scope",
        choices=("own", "rollup", "all"),
        default="own",
        help="own: each change once, at the unit whose events changed it (default); rollup: "
        "the rolled-up cells; all: both",
    )
    parser.add_argument(
        "--unit", action="append", metavar="CODE", help="only these units (repeatable)"
    )
    parser.add_argument(
        "--from",
        dest="source",
        choices=("kafka", "archive"),
        default="kafka",
        help="the log to replay for attribution",
    )
    add_json(parser, "the notes and every changed cell with its causes")
    parser.add_argument(
        "--root", type=Path, metavar="DIR", help="snapshot root (default: <state dir>/snapshots)"
    )
    parser.add_argument(
        "--archive", type=Path, metavar="DIR", help="event archive (default: <state dir>/archive)"
    )
    parser.add_argument("--units", metavar="PATH", help="unit registry TOML (default: shipped)")
    parser.add_argument(
        "--campaign", metavar="PATH", help="campaign calendar TOML (default: shipped)"
    )
    add_quiet(parser)
    parser.set_defaults(func=run)


def _resolve(ctx: Context, ref: str) -> Snapshot:
    try:
        return resolve_snapshot(ref, ctx.root)
    except WarehouseError as err:
        raise CliError(str(err), ExitCode.USAGE) from err


def run(args: argparse.Namespace) -> int:
    ctx = Context(args)
    a, b = _resolve(ctx, args.a), _resolve(ctx, args.b)
    a_cut, b_cut = ctx.cutoff(a.cutoff), ctx.cutoff(b.cutoff)
    try:
        diffs = compare(a.cells(), b.cells())
    except WarehouseError as err:
        raise CliError(str(err)) from err
    scopes = {"own", "rollup"} if args.scope == "all" else {args.scope}
    units = set(args.unit or [])
    diffs = [d for d in diffs if d.scope in scopes and (not units or d.unit in units)]
    changes: list[CellChange] = []
    notes = []
    if a.cutoff != b.cutoff:
        notes.append(
            f"note: the cutoffs differ (A {a.cutoff}, B {b.cutoff}); changes mix "
            "event-time and knowledge differences"
        )
    if diffs:
        ctx.topics = sorted(set(topics_of(a, ctx.topics)) | set(topics_of(b, ctx.topics)))
        rebuilt_a = ctx.rebuild(args.source, a.offsets, keep_info=True)
        rebuilt_b = ctx.rebuild(args.source, b.offsets, keep_info=True)
        for snap, rebuilt, cut in ((a, rebuilt_a, a_cut), (b, rebuilt_b, b_cut)):
            if compare(snap.cells(), rebuilt.cells(cut)):
                notes.append(
                    f"warning: snapshot {snap.id} does not replay exactly from "
                    f"{args.source} (run `arrears replay --verify {snap.id}`); the "
                    "attribution below may be incomplete"
                )
        # keep_info=True replays record by record: both are a Rebuild, never a BatchRebuild.
        changes = attribute(
            diffs,
            cast(Rebuild, rebuilt_a.rebuild),
            a_cut,
            a.offsets,
            cast(Rebuild, rebuilt_b.rebuild),
            b_cut,
            ctx.registry,
        )
    if args.json:
        print_json(
            {"a": a.id, "b": b.id, "notes": notes, "changes": [_as_json(c) for c in changes]}
        )
        return 0
    for line in notes:
        print(line)
    print(
        f"diff {a.id} -> {b.id}: {len(changes)} changed cell(s), scope {args.scope} "
        "(exact values: persons, fen, counts)"
    )
    for c in changes:
        print(
            f"\n{c.unit} {c.scope} {c.cell} ({c.label}): {_v(c.a)} -> {_v(c.b)} "
            f"({_signed((c.b or 0) - (c.a or 0))})"
        )
        if not c.causes:
            print("    (no event's contribution differs: a change of window or registry)")
        for cause in c.causes:
            info = cause.info
            where = f"{info.topic}:{info.partition}@{info.offset}" if info else "?"
            what = f"{info.type} at {info.unit}" if info else ""
            keys = f" key {', '.join(cause.keys)}" if cause.keys else ""
            print(
                f"    {cause.kind:<18} {cause.event_id}  {what}  {where}  "
                f"contribution {_signed(cause.delta)}{keys}  {cause.detail}".rstrip()
            )
    return 0


def _v(value: int | None) -> str:
    return "(missing)" if value is None else str(value)


def _signed(value: int) -> str:
    return f"{value:+d}"


def _as_json(c: CellChange) -> dict[str, Any]:
    return {
        "unit": c.unit,
        "scope": c.scope,
        "cell": c.cell,
        "label": c.label,
        "a": c.a,
        "b": c.b,
        "causes": [
            {
                "event_id": x.event_id,
                "kind": x.kind,
                "detail": x.detail,
                "delta": x.delta,
                "keys": list(x.keys),
                "info": x.info._asdict() if x.info else None,
            }
            for x in c.causes
        ],
    }
