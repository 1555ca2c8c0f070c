"""`arrears diff A B`: what changed between two snapshots, and which events changed it."""

from __future__ import annotations

import argparse

from pipeline.errors import CliError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("diff", help="changed cells between two snapshots, with their events")
    parser.add_argument("a")
    parser.add_argument("b")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    raise CliError("arrears diff is not built yet")
