"""The `arrears` command line: one entry point, one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from rich.console import Console

# Polars' allocator (jemalloc) hands memory it freed back to the system after half a second
# instead of ten, so one step's scratch space is not still held when the next one peaks:
# set before polars loads, for this process and every one it starts. `arrears check` of
# ten million events peaked 1,919 MB without it and 1,786 MB with it (issue 18).
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:500,muzzy_decay_ms:0")

from pipeline.errors import CliError, ExitCode
from pipeline.help import Parser, for_stream

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
    "pipeline.commands.snapshots",
    "pipeline.commands.replay",
    "pipeline.commands.diff",
    "pipeline.commands.check",
    "pipeline.commands.submit",
    "pipeline.commands.report",
    "pipeline.commands.hotspots",
    "pipeline.commands.ledger",
    "pipeline.commands.summary",
    "pipeline.commands.units",
    "pipeline.commands.bench",
)


#: Options that come before the command and take a value (`arrears --state-dir D form ...`).
_GLOBAL_VALUED = ("--state-dir",)


def module_for(argv: Sequence[str]) -> str | None:
    """The one command module `argv` needs, so `arrears ingest` does not import
    great-expectations, Faust and the rest (start-up time and memory). Each module
    registers the subcommand named like it."""
    rest = list(argv)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in _GLOBAL_VALUED and rest:
            rest.pop(0)
    wanted = f"pipeline.commands.{rest[0]}" if rest else ""
    return wanted if wanted in COMMAND_MODULES else None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"arrears {version('arrears')}"
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "arrears (not installed)"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = Parser(
        prog="arrears",
        description=(
            "Event-sourced pipeline for the wage-arrears winter campaign report "
            "(治理欠薪冬季行动情况): ingest source-system events into Kafka, keep running "
            "tallies, cut and check snapshots, replay, and render the official form. "
            "`arrears COMMAND --help` says more of each, and which exit codes it uses."
        ),
        codes=tuple(ExitCode),
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        type=Path,
        help="where the local state lives: broker data, archive, snapshots "
        "(default: $ARREARS_STATE_DIR, else ~/.local/state/arrears)",
    )
    # Every command's parser is a Parser: help wrapped by display width, exit codes at the end.
    sub = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, parser_class=Parser
    )
    for name in COMMAND_MODULES if only is None else (only,):
        importlib.import_module(name).register(sub)
    return parser


def _pipe_closed(_console: object) -> None:
    """rich's Console exits with status 1 when its reader goes away; for us that is not a
    failure: let `main` see the BrokenPipeError and exit 0."""
    raise BrokenPipeError


def error_text(message: str, stream: TextIO) -> str:
    """`arrears: error: <message>`: one line into a pipe or a log (to grep), wrapped
    between words on a terminal (`pipeline.help.for_stream`)."""
    return for_stream(f"arrears: error: {message}", stream)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    Console.on_broken_pipe = _pipe_closed  # type: ignore[method-assign, assignment]
    parser = build_parser(module_for(argv))
    args = parser.parse_args(argv)
    if args.state_dir is not None:  # every command reads its settings from the environment
        os.environ["ARREARS_STATE_DIR"] = str(args.state_dir.expanduser().resolve())
    try:
        code = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`arrears form | head`): not a failure. Point stdout at
        # /dev/null so the interpreter's own flush at exit does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except CliError as err:
        print(error_text(str(err), sys.stderr), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("arrears: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
