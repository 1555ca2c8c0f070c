"""`arrears summary SNAPSHOT --unit U --out F.docx|F.md`: the draft of 冬季行动总体工作情况 with
the pipeline's figures filled in (the notice's 工作要求: 行动结束时 each level reports it)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipeline.commands.hotspots import check_unit, found_hotspots
from pipeline.commands.snapshot import Context, add_common
from pipeline.errors import CliError, ExitCode
from pipeline.flows.supervision import views
from warehouse.errors import WarehouseError
from warehouse.snapshot import resolve_snapshot
from warehouse.summary import build_summary, write_docx, write_markdown


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "summary",
        help="draft 冬季行动总体工作情况 (the final report's text) with the figures filled in",
        description=(
            "Write a draft of the final report 冬季行动总体工作情况 for --unit: 开展情况 "
            "(employers inspected by method, leads by intake, projects checked), 取得成效 "
            "(problems resolved by channel with workers and 万元, orders and decisions, police "
            "transfers and filings, units named and blacklisted, and with --previous the "
            "change since that snapshot), 存在问题 (verified cases still open and their "
            "amounts, the lead hotspots, the quality warnings of `arrears check` when it has "
            "run on the snapshot) and 意见建议 as headings for people to write. Figures are "
            "the snapshot's, rounded as on the form (万人 4 places, 万元 2, half up), read "
            "from the tables it stores (a snapshot cut without them: from the archive at "
            "its offsets)."
        ),
    )
    parser.add_argument("snapshot", metavar="SNAPSHOT", help="a snapshot directory, CUTOFF/ID, ...")
    parser.add_argument("--previous", metavar="SNAPSHOT", help="an earlier snapshot to compare")
    parser.add_argument("--unit", required=True, metavar="CODE", help="reporting unit, e.g. 320400")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="FILE.docx (Word) or FILE.md"
    )
    add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out.suffix not in (".docx", ".md"):
        raise CliError(f"--out {args.out}: name a .docx or a .md file", ExitCode.USAGE)
    ctx = Context(args)
    check_unit(ctx, args.unit)
    previous = None
    if args.previous is not None:
        try:
            previous = resolve_snapshot(args.previous, ctx.root)
        except WarehouseError as err:
            raise CliError(f"--previous: {err}", ExitCode.USAGE) from err
    v = views(ctx, args.snapshot, None, None, need_figures=True)
    assert v.snapshot is not None and v.figures is not None
    found = found_hotspots(ctx, v.counts, args.unit, v.rules, 10)
    try:
        summary = build_summary(
            ctx.registry.unit(args.unit),
            ctx.registry,
            v.cutoff.iso(),
            v.snapshot.id,
            v.snapshot.cells(),
            v.figures,
            found,
            previous=None if previous is None else previous.cells(),
            previous_id=None if previous is None else previous.id,
            quality=_quality(v.snapshot.path),
        )
        if args.out.suffix == ".docx":
            write_docx(summary, args.out)
        else:
            write_markdown(summary, args.out)
    except WarehouseError as err:
        raise CliError(str(err)) from err
    except OSError as err:
        raise CliError(f"cannot write {args.out}: {err.strerror or err}") from err
    print(f"wrote {args.out} (snapshot {v.snapshot.id}, unit {args.unit})")
    return 0


def _quality(path: Path) -> dict[str, Any] | None:
    """The snapshot's check-result.json, when `arrears check` has run on it."""
    result = path / "quality" / "check-result.json"
    if not result.is_file():
        return None
    try:
        body = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CliError(f"cannot read {result}: {err}") from err
    return body if isinstance(body, dict) else None
