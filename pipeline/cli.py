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


def _module_for(argv: Sequence[str]) -> str | None:
    """The one command module `argv` needs, so `arrears ingest` does not import
    great-expectations, Faust and the rest (start-up time and memory). Each module
    registers the subcommand named like it."""
    first = next((a for a in argv if not a.startswith("-")), None)
    wanted = f"pipeline.commands.{first}"
    return wanted if wanted in COMMAND_MODULES else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
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
    for name in COMMAND_MODULES if only is None else (only,):
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_module_for(argv))
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
