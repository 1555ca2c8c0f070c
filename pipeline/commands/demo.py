"""`arrears demo`: the December story end to end on the local broker."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from infra.settings import Settings
from pipeline.commands.report import filed_on_date
from pipeline.flows.demo import run_demo
from pipeline.flows.demo_run import default_filed_on, default_run_dir
from pipeline.output import add_quiet


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the December story end to end on a local broker",
        description="""\
The December story, every step a real `arrears` command: broker up, topics;
generate a campaign for a unit's subtree (Changzhou by default, --unit 320000
for the whole province; with resends, conflicts, corrections,
retractions, late arrivals and bad records); ingest what was known at
2024-12-31 17:30; two Faust workers keep the running tallies; archive;
snapshot the 12-31 figures at close of business (and check the live tallies
equal it); ingest January's late events and corrections; restated snapshot;
diff the two; the quality gate: check with --previous and submit, refused while
dead letters are open; fix what can be fixed (resubmit), dismiss the rest with
reasons, snapshot again, check again and submit; render the submitted form
(xlsx, table); replay the snapshots from Kafka and from the archive with --verify.

Each run has its own folder (default ./out/demo/<time>) and topic prefix, so a
second run never mixes with the first. A failed step names itself and its log.""",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=60_000,
        metavar="N",
        help="lines of synthetic campaign to generate (default 60000)",
    )
    parser.add_argument(
        "--seed", type=int, default=2024, metavar="S", help="generator seed (default 2024)"
    )
    parser.add_argument(
        "--unit",
        type=registered_unit,
        default="320400",
        metavar="CODE",
        help="the unit whose campaign is generated, checked and printed with a sheet for each "
        "of its direct children (default 320400; 320000: the province and its 13 cities)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, metavar="N", help="Faust workers to run (default 2)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out/demo"),
        metavar="DIR",
        help="folder for run folders (default ./out/demo)",
    )
    parser.add_argument(
        "--quality-config",
        type=Path,
        metavar="TOML",
        help="quality thresholds for the gate's check and submit (default: the shipped "
        "contracts/quality/quality.toml)",
    )
    parser.add_argument(
        "--filed-on",
        metavar="DATE",
        type=filed_on_date,
        help="the workbook's 填报时间, YYYY-MM-DD (default: the day the city's progress "
        "report is due to the province in the campaign calendar, 2025-01-03)",
    )
    add_quiet(parser)
    parser.set_defaults(func=run)


def registered_unit(code: str) -> str:
    """argparse type of `--unit`: a unit of the shipped registry."""
    from contracts.errors import ValidationError
    from contracts.registry import Registry

    try:
        return Registry.load().unit(code).code
    except ValidationError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def run(args: argparse.Namespace) -> int:
    if args.events < 1000:
        from pipeline.errors import CliError

        raise CliError(f"--events {args.events}: the story needs at least 1000 events", exit_code=2)
    run_dir = default_run_dir(args.out.resolve())
    return run_demo(
        run_dir,
        events=args.events,
        seed=args.seed,
        workers=args.workers,
        filed_on=args.filed_on or default_filed_on(),
        console=Console(),
        base=Settings.from_env(),
        quality_config=None if args.quality_config is None else args.quality_config.resolve(),
        quiet=args.quiet,
        unit=args.unit,
    )
