"""One unit's form: its rolled-up figures from a snapshot, and the units they cover."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from contracts.cells import CELLS
from contracts.errors import ContractError
from contracts.registry import Registry, Unit
from warehouse.errors import WarehouseError

__all__ = ["UnitForm", "build_forms"]


@dataclass(frozen=True)
class UnitForm:
    """What the form of `unit` shows: exact rolled-up values by cell id."""

    unit: Unit
    covers: tuple[Unit, ...]  # the unit and its whole subtree, parents first
    values: dict[str, int]
    meta: dict[str, Any]

    @property
    def cutoff(self) -> str:
        return str(self.meta.get("cutoff", ""))

    def covers_text(self) -> str:
        """ "常州市（320400）及其下级单位：天宁区（320402）、…" or the unit alone."""
        own = f"{self.unit.name}（{self.unit.code}）"
        below = self.covers[1:]
        if not below:
            return f"{own}本级"
        names = "、".join(f"{u.name}（{u.code}）" for u in below)
        return f"{own}本级及下级{len(below)}个单位汇总：{names}"


def build_forms(
    cells: pl.DataFrame, meta: dict[str, Any], registry: Registry, units: list[str]
) -> list[UnitForm]:
    """The forms of `units` from a snapshot's cell table (the `rollup` scope)."""
    forms = []
    rolled = cells.filter(pl.col("scope") == "rollup")
    for code in units:
        try:
            unit = registry.unit(code, field="--unit")
        except ContractError as err:  # its message names the known units
            raise WarehouseError(str(err)) from err
        rows = rolled.filter(pl.col("unit") == code)
        values = dict(zip(rows["cell"].to_list(), rows["value"].to_list(), strict=True))
        missing = [c.id for c in CELLS if c.id not in values]
        if missing:
            raise WarehouseError(
                f"the snapshot has no rolled-up figures for unit {code} "
                f"({len(missing)} cells missing, e.g. {missing[0]}); was it cut "
                "with another unit registry?"
            )
        forms.append(UnitForm(unit, registry.subtree(code), values, meta))
    return forms
