"""One unit's form: its rolled-up figures from a snapshot, and the units they cover."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from contracts.cells import CELLS
from contracts.clock import CST
from contracts.errors import ContractError
from contracts.registry import Registry, Unit
from warehouse.errors import WarehouseError

__all__ = ["UnitForm", "build_forms", "today_cst", "SCOPES", "with_children"]

#: What a sheet shows: the unit with its subtree (汇总), or its own events (本级).
SCOPES = ("rollup", "own")


def with_children(units: list[str], registry: Registry) -> list[str]:
    """Each unit followed by its direct children, each code once, in that order."""
    out: list[str] = []
    for code in units:
        try:
            kids = [u.code for u in registry.children(code)]
        except ContractError as err:
            raise WarehouseError(str(err)) from err
        out.extend([code, *kids])
    return list(dict.fromkeys(out))


def today_cst() -> dt.date:
    """Today's date in China Standard Time (the default 填报时间)."""
    return dt.datetime.now(CST).date()


@dataclass(frozen=True)
class UnitForm:
    """What the form of `unit` shows: exact rolled-up values by cell id.

    `filer` is the 填报单位名称 (the unit's agency unless the user names another);
    `filed_on` the 填报时间, the day the form is sent, not the snapshot's creation day.
    """

    unit: Unit
    covers: tuple[Unit, ...]  # the unit and its whole subtree, parents first
    values: dict[str, int]
    meta: dict[str, Any]
    filer: str = ""  # "": the unit's agency (or its name when the registry has none)
    filed_on: dt.date = field(default_factory=today_cst)
    scope: str = "rollup"  # "own": the unit's 本级 figures alone

    def __post_init__(self) -> None:
        if not self.filer:
            object.__setattr__(self, "filer", self.unit.filer)

    @property
    def cutoff(self) -> str:
        return str(self.meta.get("cutoff", ""))

    def covers_text(self) -> str:
        """ "常州市（320400）及其下级单位：天宁区（320402）、…" or the unit alone."""
        own = f"{self.unit.name}（{self.unit.code}）"
        below = self.covers[1:]
        if not below:
            return f"{own}本级"
        if self.scope == "own":
            return f"{own}本级（不含下级{len(below)}个单位）"
        kids = [u for u in below if u.parent == self.unit.code]
        if len(kids) == len(below):
            names = "、".join(f"{u.name}（{u.code}）" for u in below)
        else:  # a province: its cities, each with how many units it covers, not all 118
            under = {u.code: 0 for u in kids}
            by_code = {u.code: u for u in self.covers}
            for unit in below:
                top = unit
                while top.code not in under and top.parent in by_code:
                    top = by_code[top.parent]
                under[top.code] += top.code != unit.code
            names = "、".join(
                f"{u.name}（{u.code}）"
                + (f"及其下级{under[u.code]}个单位" if under[u.code] else "")
                for u in kids
            )
        return f"{own}本级及下级{len(below)}个单位汇总：{names}"


def build_forms(
    cells: pl.DataFrame,
    meta: dict[str, Any],
    registry: Registry,
    units: list[str],
    *,
    filer: str | None = None,
    filed_on: dt.date | None = None,
    scope: str = "rollup",
) -> list[UnitForm]:
    """The forms of `units` from a snapshot's cell table.

    `scope` "rollup" (each unit and its subtree) or "own" (the unit's 本级 events alone);
    `filer` replaces every unit's agency on the 填报单位名称 line; `filed_on`
    (default: today, +08:00) is the 填报时间.
    """
    if scope not in SCOPES:
        raise WarehouseError(f"--scope {scope!r} is not one of {', '.join(SCOPES)}")
    if filer is not None and not filer.strip():
        raise WarehouseError("--filer must name the filing agency, e.g. 常州市人力资源和社会保障局")
    day = filed_on or today_cst()
    forms = []
    rolled = cells.filter(pl.col("scope") == scope)
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
                f"the snapshot has no {scope} figures for unit {code} "
                f"({len(missing)} cells missing, e.g. {missing[0]}); was it cut "
                "with another unit registry?"
            )
        name = filer.strip() if filer is not None else unit.filer
        covers = registry.subtree(code)
        forms.append(UnitForm(unit, covers, values, meta, name, day, scope))
    return forms
