"""Figures -> the snapshot's cell table: every unit x (own | rollup) x every cell."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from contracts.cells import CELLS
from contracts.fold import Figures, rollup
from contracts.registry import Registry

__all__ = ["SCHEMA", "SCOPES", "cells_frame", "figures_of"]

#: The columns of cells.parquet (ARCHITECTURE.md, snapshots); values are exact int64.
SCHEMA = {"unit": pl.String, "scope": pl.String, "cell": pl.String, "value": pl.Int64}
SCOPES = ("own", "rollup")


def cells_frame(own: Mapping[tuple[str, str], int], registry: Registry) -> pl.DataFrame:
    """The full table, zeros included, in registry order (parents first), then CELLS order.

    `own` is `contracts.fold.tally`'s output; the roll-up is `contracts.fold.rollup`.
    """
    tree = {u.code: u.parent for u in registry}
    rolled = rollup(own, tree)
    units = [u.code for u in registry.subtree(_root(registry))]
    ids = [c.id for c in CELLS]
    unit_col: list[str] = []
    scope_col: list[str] = []
    cell_col: list[str] = []
    values: list[int] = []
    for unit in units:
        for scope, source in (("own", own), ("rollup", rolled)):
            for cell_id in ids:
                unit_col.append(unit)
                scope_col.append(scope)
                cell_col.append(cell_id)
                values.append(int(source.get((unit, cell_id), 0)))
    return pl.DataFrame(
        {"unit": unit_col, "scope": scope_col, "cell": cell_col, "value": values}, schema=SCHEMA
    )


def figures_of(frame: pl.DataFrame, scope: str = "rollup") -> Figures:
    """(unit, cell) -> value for one scope of a cell table."""
    part = frame.filter(pl.col("scope") == scope)
    return {(u, c): int(v) for u, c, v in part.select("unit", "cell", "value").iter_rows()}


def _root(registry: Registry) -> str:
    return next(u.code for u in registry if u.parent is None)
