"""`arrears units [--under CODE] [--search TEXT]`: the unit registry, as a table or JSON."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from contracts.errors import ContractError
from contracts.registry import Registry, Unit
from pipeline.errors import CliError, ExitCode
from pipeline.output import add_json, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "units",
        help="list the reporting units of the registry (code, name, parent, agency)",
        description=(
            "List the reporting units, parents before children: code, name, parent, "
            "whether the code is a GB/T 2260 one, and the agency that stamps the unit's form. "
            "--under CODE keeps the unit and everything below it; --search TEXT keeps units "
            "whose code, name or agency contains TEXT. Nothing matching is not an error."
        ),
    )
    parser.add_argument("--under", metavar="CODE", help="only CODE and the units below it")
    parser.add_argument("--search", metavar="TEXT", help="code, name or agency containing TEXT")
    add_json(parser, "one array, a unit an object")
    parser.add_argument("--units", metavar="PATH", help="unit registry TOML (default: shipped)")
    parser.set_defaults(func=run)


def select(registry: Registry, under: str | None, search: str | None) -> list[Unit]:
    """The units under `under` (default: all) whose code, name or agency holds `search`."""
    root = next(u.code for u in registry if u.parent is None)
    units = registry.subtree(under if under is not None else root)
    if search:
        needle = search.strip()
        units = tuple(
            u for u in units if needle in u.code or needle in u.name or needle in u.agency
        )
    return list(units)


def run(args: argparse.Namespace) -> int:
    try:
        registry = Registry.load(args.units)
    except (ContractError, OSError) as err:
        raise CliError(str(err)) from err
    try:
        units = select(registry, args.under, args.search)
    except ContractError as err:  # an unknown --under: the message names the known units
        raise CliError(str(err), ExitCode.USAGE) from err
    if args.json:
        rows: list[dict[str, Any]] = [
            {
                "code": u.code,
                "name": u.name,
                "parent": u.parent,
                "official": u.official,
                "agency": u.agency,
            }
            for u in units
        ]
        print_json(rows)
        return 0
    table = Table(title=f"{len(units)} of {len(registry)} units ({registry.source})")
    for heading in ("code", "name", "parent", "official"):
        table.add_column(heading, no_wrap=True)
    table.add_column("agency (填报单位)", overflow="fold")
    depth = {u.code: len(registry.ancestors(u.code)) for u in units}
    low = min(depth.values(), default=0)
    for u in units:
        indent = "  " * (depth[u.code] - low) if not args.search else ""
        table.add_row(
            u.code, indent + u.name, u.parent or "", "yes" if u.official else "no", u.agency
        )
    Console().print(table)
    return 0
