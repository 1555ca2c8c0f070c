"""Supervision (SPEC 10; the notice's §三 and 总体要求): the campaign's supervision rules and
the lead hotspots, read from a `contracts.casebook.Casebook` (the problem ledger is
`contracts.problems`).

What counts as 量大 and 增幅快, the window, and the deadline of the promise that every
verified case closes before the Spring Festival are the campaign file's `[supervision]`
table (`campaign-2024.toml`), not code.

    >>> rules = load_rules()
    >>> rules.window_days, rules.deadline.date().isoformat()
    (7, '2025-01-28')
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from contracts.calendar import DEFAULT_CONFIG, load_campaign
from contracts.casebook import Casebook
from contracts.clock import CST
from contracts.errors import ContractError
from contracts.registry import Registry

__all__ = [
    "SupervisionError",
    "Rules",
    "load_rules",
    "LeadCount",
    "lead_counts",
    "Hotspot",
    "hotspots",
    "day_of",
    "KINDS",
]

DAY_MS = 86_400_000
KINDS = ("unit", "project", "employer")


class SupervisionError(ContractError, ValueError):
    """The `[supervision]` table of a campaign file is missing or wrong."""


@dataclass(frozen=True)
class Rules:
    """The campaign's supervision settings (see the campaign file's comments)."""

    window_days: int
    many_leads: int
    fast_growth_pct: int
    fast_growth_min_leads: int
    deadline: dt.datetime
    source: Path

    def with_window(self, days: int | None) -> Rules:
        if days is None:
            return self
        if days < 1:
            raise SupervisionError(f"a hotspot window must be at least 1 day, got {days}")
        return Rules(
            days,
            self.many_leads,
            self.fast_growth_pct,
            self.fast_growth_min_leads,
            self.deadline,
            self.source,
        )


def load_rules(path: str | Path | None = None) -> Rules:
    """The `[supervision]` table of a campaign file (None: the shipped campaign-2024.toml)."""
    source = Path(path) if path is not None else DEFAULT_CONFIG
    campaign = load_campaign(source)
    with source.open("rb") as fh:
        raw = tomllib.load(fh)
    table = raw.get("supervision")
    if not isinstance(table, dict):
        raise SupervisionError(
            f"{source} has no [supervision] table; add window_days, deadline, many_leads, "
            "fast_growth_pct and fast_growth_min_leads (see contracts/campaign-2024.toml)"
        )

    def number(key: str, least: int) -> int:
        value = table.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise SupervisionError(
                f"{source}: supervision.{key} = {value!r}; expected a whole number >= {least}"
            )
        return value

    named = {"window_end": campaign.window_end, "window_start": campaign.window_start}
    deadline: Any = table.get("deadline", "window_end")
    if isinstance(deadline, str) and deadline in named:
        deadline = named[deadline]
    if not isinstance(deadline, dt.datetime) or deadline.utcoffset() is None:
        raise SupervisionError(
            f"{source}: supervision.deadline = {deadline!r}; expected window_end or a "
            "datetime with an offset, e.g. 2025-01-28T23:59:59+08:00"
        )
    return Rules(
        number("window_days", 1),
        number("many_leads", 1),
        number("fast_growth_pct", 0),
        number("fast_growth_min_leads", 1),
        deadline.astimezone(CST),
        source,
    )


def day_of(ms: int) -> dt.date:
    """The +08:00 calendar day of an epoch millisecond."""
    return dt.datetime.fromtimestamp(ms / 1000, CST).date()


# --- hotspots ---------------------------------------------------------------------------------


class LeadCount(NamedTuple):
    """Leads received under one unit about one subject (kind "unit": all the unit's leads),
    merged duplicates left out: in the window, in the window before, and of the window's
    leads those substantiated, the amount (fen) and workers claimed. The stored basis of the
    hotspots: summed over any subtree of units."""

    unit: str
    kind: str
    id: str
    name: str
    leads: int
    previous: int
    substantiated: int
    claimed_fen: int
    workers_claimed: int


def lead_counts(book: Casebook, window_days: int) -> list[LeadCount]:
    """Each (unit, kind, id)'s leads in (cutoff - window, cutoff] and the window before."""
    end = book.cutoff_ms
    start, before = end - window_days * DAY_MS, end - 2 * window_days * DAY_MS
    acc: dict[tuple[str, str, str], list[Any]] = {}
    for lead in book.leads:
        if lead.merged or lead.received_at <= before:
            continue
        current = lead.received_at > start
        subjects: list[tuple[str, str, str]] = [("unit", lead.unit, "")]
        subjects += [(s.kind, s.id, s.name) for s in (lead.project, lead.employer) if s]
        for kind, ident, name in subjects:
            row = acc.setdefault((lead.unit, kind, ident), [name, 0, 0, 0, 0, 0])
            row[0] = row[0] or name
            if current:
                row[1] += 1
                row[3] += lead.substantiated
                row[4] += lead.claimed_fen
                row[5] += lead.workers_claimed
            else:
                row[2] += 1
    return [
        LeadCount(unit, kind, ident, *values) for (unit, kind, ident), values in sorted(acc.items())
    ]


@dataclass(frozen=True)
class Hotspot:
    """A unit, project or employer under the asked unit, with its leads and flags."""

    kind: str
    id: str
    name: str
    units: tuple[str, ...]
    leads: int
    previous: int
    substantiated: int
    claimed_fen: int
    workers_claimed: int
    many: bool  # 量大
    fast: bool  # 增幅快

    @property
    def flagged(self) -> bool:
        return self.many or self.fast

    @property
    def growth_pct(self) -> float | None:
        """Growth on the previous window in per cent; None when the window before had none."""
        if not self.previous:
            return None
        return (self.leads - self.previous) * 100 / self.previous

    @property
    def substantiated_pct(self) -> float | None:
        return None if not self.leads else self.substantiated * 100 / self.leads


def hotspots(
    counts: Iterable[LeadCount],
    registry: Registry,
    unit: str,
    rules: Rules,
    *,
    top: int | None = None,
    by: str = "leads",
) -> dict[str, list[Hotspot]]:
    """kind -> the units reporting to `unit` (`unit` itself when none do), projects and
    employers under `unit`, ranked by leads in the window (`by="growth"`: by growth first),
    the first `top` of each kind."""
    under = {u.code for u in registry.subtree(unit)}
    counts = [c for c in counts if c.unit in under]
    out: dict[str, list[Hotspot]] = {}
    # the units reporting to `unit` (a city's districts, a province's cities), each with its
    # subtree: one level, so no lead is ranked twice
    ranked_units = [u.code for u in registry.children(unit)] or [unit]
    unit_rows = [c for c in counts if c.kind == "unit"]
    out["unit"] = _rank(
        [
            _hotspot(
                "unit",
                code,
                registry.unit(code).name,
                [c for c in unit_rows if c.unit in {s.code for s in registry.subtree(code)}],
                rules,
            )
            for code in ranked_units
        ],
        by,
        top,
    )
    for kind in ("project", "employer"):
        grouped: dict[str, list[LeadCount]] = defaultdict(list)
        for c in counts:
            if c.kind == kind:
                grouped[c.id].append(c)
        found = [
            _hotspot(kind, ident, next((c.name for c in rows if c.name), ""), rows, rules)
            for ident, rows in grouped.items()
        ]
        out[kind] = _rank([h for h in found if h.leads or h.previous], by, top)
    return out


def _hotspot(kind: str, ident: str, name: str, rows: Sequence[LeadCount], rules: Rules) -> Hotspot:
    leads = sum(c.leads for c in rows)
    previous = sum(c.previous for c in rows)
    fast = leads >= rules.fast_growth_min_leads and (
        previous == 0 or leads * 100 >= previous * (100 + rules.fast_growth_pct)
    )
    return Hotspot(
        kind,
        ident,
        name,
        tuple(sorted({c.unit for c in rows})),
        leads,
        previous,
        sum(c.substantiated for c in rows),
        sum(c.claimed_fen for c in rows),
        sum(c.workers_claimed for c in rows),
        many=leads >= rules.many_leads,
        fast=fast,
    )


def _rank(items: list[Hotspot], by: str, top: int | None) -> list[Hotspot]:
    def growth(h: Hotspot) -> float:
        pct = h.growth_pct
        return pct if pct is not None else (float("inf") if h.leads else 0.0)

    if by == "leads":
        items.sort(key=lambda h: (-h.leads, -growth(h), h.id))
    elif by == "growth":
        items.sort(key=lambda h: (-growth(h), -h.leads, h.id))
    else:
        raise SupervisionError(f"hotspots rank by 'leads' or 'growth', not {by!r}")
    return items if top is None else items[:top]
