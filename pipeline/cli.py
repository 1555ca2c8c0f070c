"""The `arrears` command line: one entry point, one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pipeline.errors import CliError

# Each module in pipeline/commands registers one subcommand (or a group of them)
# through `register(subparsers)` and sets `func` on its parser. Order is the
# order `--help` lists them in: the December story, roughly.
COMMAND_MODULES = (
    "pipeline.commands.calendar",
    "pipeline.commands.generate",
    "pipeline.commands.demo",
    "pipeline.commands.infra",
    "pipeline.commands.ingest",
    "pipeline.commands.deadletters",
    "pipeline.commands.worker",
    "pipeline.commands.form",
    "pipeline.commands.archive",
    "pipeline.commands.snapshot",
    "pipeline.commands.replay",
    "pipeline.commands.diff",
    "pipeline.commands.check",
    "pipeline.commands.submit",
    "pipeline.commands.report",
    "pipeline.commands.bench",
)

EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arrears",
        description=(
            "Event-sourced pipeline for the wage-arrears winter campaign report "
            "(治理欠薪冬季行动情况): ingest source-system events into Kafka, keep running "
            "tallies, cut and check snapshots, replay, and render the official form."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except CliError as err:
        print(f"arrears: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("arrears: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
