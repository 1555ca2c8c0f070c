"""What changed between two snapshots, and the events that changed each cell.

Both snapshots are replayed from the log to their own offset vectors through the
same Ledger. For a changed cell, the events whose effective contributions to it
differ between the two ledgers are its causes, each classified:

- `late arrival`: not in A's part of the log at all, event time within A's cutoff;
- `correction`: a new event that supersedes an earlier one (the earlier one shows
  as `superseded`);
- `retracted`: an event A counted that an `event.retracted` removed;
- `moved`: an event counting in both whose contribution changed cell, such as a case's
  follow-up taken to 建筑业 by its case (SPEC 4.1);
- `corrected in place`, `reinstated`: the rarer ledger moves, named as such.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from contracts.cells import CELL_BY_ID, ROWS, TOTAL, row_cell
from contracts.cutoff import Cutoff
from contracts.fold import Contribution
from contracts.ledger import ACTIVE, unscoped
from contracts.registry import Registry
from warehouse.offsets import Offsets
from warehouse.rebuild import EventInfo, Rebuild
from warehouse.snapshot import CellDiff

__all__ = ["Cause", "CellChange", "attribute"]


@dataclass(frozen=True)
class Cause:
    event_id: str
    kind: str
    detail: str
    delta: int  # B's contribution values minus A's, summed (for SUM cells: the change it made)
    keys: tuple[str, ...]  # the distinct/latest keys it touches (employers, projects, leads)
    info: EventInfo | None


@dataclass(frozen=True)
class CellChange:
    unit: str
    scope: str
    cell: str
    a: int | None
    b: int | None
    causes: list[Cause] = field(default_factory=list)

    @property
    def label(self) -> str:
        return CELL_BY_ID[self.cell].label if self.cell in CELL_BY_ID else self.cell


def _by_cell(
    rebuild: Rebuild, cutoff: Cutoff
) -> dict[tuple[str, str], dict[str, list[Contribution]]]:
    """(unit, cell) -> Ledger key -> its effective contributions inside the cutoff window."""
    out: dict[tuple[str, str], dict[str, list[Contribution]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for eid, items in rebuild.ledger.effective().items():
        for c in items:
            if cutoff.since_ms <= c.at <= cutoff.cutoff_ms:
                out[(c.unit, c.cell)][eid].append(c)
    return out


def attribute(
    changes: list[CellDiff],
    a: Rebuild,
    a_cutoff: Cutoff,
    a_offsets: Offsets,
    b: Rebuild,
    b_cutoff: Cutoff,
    registry: Registry,
) -> list[CellChange]:
    """Attach to each changed cell the events that changed it (see the module docstring)."""
    in_a, in_b = _by_cell(a, a_cutoff), _by_cell(b, b_cutoff)
    subtree = {u.code: [s.code for s in registry.subtree(u.code)] for u in registry}
    out = []
    for d in changes:
        units = [d.unit] if d.scope == "own" else subtree.get(d.unit, [d.unit])
        before: dict[str, list[Contribution]] = defaultdict(list)
        after: dict[str, list[Contribution]] = defaultdict(list)
        for unit in units:
            for folded in _folded(d.cell):
                for eid, items in in_a.get((unit, folded), {}).items():
                    before[eid].extend(items)
                for eid, items in in_b.get((unit, folded), {}).items():
                    after[eid].extend(items)
        causes = []
        for eid in sorted(set(before) | set(after)):
            was, now = sorted(before.get(eid, [])), sorted(after.get(eid, []))
            if was == now:
                continue
            keys = tuple(sorted({c.key for c in was + now if c.key}))
            delta = sum(c.value for c in now) - sum(c.value for c in was)
            kind, detail = _classify(eid, bool(was), bool(now), a, b, a_offsets)
            info = b.info.get(eid) or a.info.get(eid)
            causes.append(Cause(unscoped(eid)[2], kind, detail, delta, keys, info))
        causes.sort(
            key=lambda c: (_ORDER.get(c.kind, 9), c.info.offset if c.info else 0, c.event_id)
        )
        out.append(CellChange(d.unit, d.scope, d.cell, d.stored, d.rebuilt, causes))
    return out


def _folded(cell_id: str) -> list[str]:
    """The cells contributions go to: 合计 is fed by the four rows of its column."""
    prefix = f"{TOTAL}."
    if not cell_id.startswith(prefix):
        return [cell_id]
    column = cell_id[len(prefix) :]
    return [row_cell(r.key, column) for r in ROWS if r.key != TOTAL]


_ORDER = {"late arrival": 0, "correction": 1, "superseded": 2, "retracted": 3}


def _classify(
    eid: str, was: bool, now: bool, a: Rebuild, b: Rebuild, a_offsets: Offsets
) -> tuple[str, str]:
    info = b.info.get(eid) or a.info.get(eid)
    entry_b = b.ledger.entries.get(eid, {})
    if now and not was:
        if info is not None and info.supersedes:
            return "correction", f"supersedes {info.supersedes}"
        known_to_a = eid in a.ledger.entries and a.ledger.entries[eid].get("h") is not None
        if not known_to_a:
            where = ""
            if info is not None:
                end = a_offsets.get(info.topic, {}).get(info.partition, 0)
                where = (
                    f"offset {info.offset} >= A's {end} on {info.topic}:{info.partition}; "
                    f"occurred {info.occurred_at}"
                )
                if info.recorded_at:
                    where += f", recorded {info.recorded_at}"
            return "late arrival", where
        if a.ledger.entries[eid].get("s") == ACTIVE:
            return "moved", _moved(entry_b)
        return "reinstated", "inactive in A, counts in B"
    if was and not now:
        status, by = entry_b.get("s"), entry_b.get("by")
        if status == "retracted":
            by_info = b.info.get(str(by))
            reason = f" ({by_info.reason})" if by_info and by_info.reason else ""
            return "retracted", f"by {unscoped(str(by))[2]}{reason}"
        if status == "superseded":
            return "superseded", f"by {unscoped(str(by))[2]}"
        if status == ACTIVE:
            return "moved", _moved(entry_b)
        return "removed", f"status in B: {status}"
    return "corrected in place", "same event_id re-sent as its own correction"


def _moved(entry: dict[str, object]) -> str:
    case = entry.get("k")
    if isinstance(case, str):
        return f"counts in the row of its case {unscoped(case)[2]} (SPEC 4.1)"
    return "its contribution to this cell changed"
