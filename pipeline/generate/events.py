"""Clean events of any source and type: pick a type by weight, build it, stamp and remember it."""

from __future__ import annotations

import bisect
from typing import Any

from pipeline.generate.complaints import ComplaintBuilder
from pipeline.generate.disputes import CourtBuilder, MediationBuilder
from pipeline.generate.history import History
from pipeline.generate.inspection import InspectionBuilder
from pipeline.generate.pools import Pools
from pipeline.generate.rates import SELF_CONTAINED, TYPE_CUM, TYPE_KEYS
from pipeline.generate.records import Builder, Kind, Line
from pipeline.generate.state import State
from pipeline.generate.util import encode, iso, order_envelope

#: The type a source falls back to when the type drawn has an empty pool (inspection: none,
#: it draws between arrears.verified and employer.inspected).
_FALLBACK = {
    "complaint": "lead.received",
    "mediation": "dispute.resolved",
    "court": "execution.concluded",
}


class CleanEvents:
    """Clean events, each built by its source's builder and kept in the ``history``."""

    def __init__(self, state: State, pools: Pools, history: History) -> None:
        self.state = state
        self.history = history
        self.rng = state.rng
        self.builders: dict[str, Builder] = {}
        for source in (InspectionBuilder, MediationBuilder, CourtBuilder, ComplaintBuilder):
            self.builders.update(source(state, pools).builders())

    def clean(self, t: int, *, late: bool = False, recorded: int | None = None) -> Line:
        """A clean line of a type drawn by weight (of a self-contained one if ``late``) at ``t``.

        ``recorded`` is given for late arrivals (the slot's time); otherwise the event is
        recorded a type-dependent delay after it occurred.
        """
        rng = self.rng
        if late:
            source, type_ = "inspection", rng.choice(SELF_CONTAINED)
            if type_ == "dispute.resolved":
                source = "mediation"
            elif type_ == "execution.concluded":
                source = "court"
        else:
            source, type_ = TYPE_KEYS[bisect.bisect_left(TYPE_CUM, rng.random() * TYPE_CUM[-1])]
        obj, occurred = self.event(source, type_, t)
        # The delay is the drawn type's, also when `event` fell back to another type: the
        # generator's output (pinned by tests/pipeline/test_generate.py) has always been so.
        return self.stamp(obj, occurred, recorded, delay_of=type_)

    def stamp(
        self,
        obj: dict[str, Any],
        occurred: int,
        recorded: int | None = None,
        *,
        delay_of: str | None = None,
    ) -> Line:
        """Record an event built by `event` or `envelope`: its recorded time (unless given, a
        delay for its type, or for `delay_of`), envelope order, the history; the line."""
        kind = delay_of or obj["type"]
        rec = recorded if recorded is not None else occurred + self.state.delay(kind)
        obj["recorded_at"] = iso(rec)
        order_envelope(obj)
        self.history.remember(obj, occurred, rec)
        is_late = occurred <= self.state.cutoff < rec
        return encode(obj), rec, Kind("clean", obj["source"], obj["type"], is_late)

    def envelope(
        self, source: str, type_: str, unit: str, payload: dict[str, Any], occurred: int
    ) -> dict[str, Any]:
        """The event object (without recorded_at) of a payload built elsewhere."""
        return {
            "event_id": self.state.event_id(source, unit),
            "source": source,
            "type": type_,
            "occurred_at": iso(occurred),
            "unit": unit,
            "payload": payload,
        }

    def event(self, source: str, type_: str, t: int) -> tuple[dict[str, Any], int]:
        """Build one event of (source, type) at about time t, falling back when a pool is empty.

        Returns the event object without ``recorded_at`` (its keys not yet in envelope order)
        and its occurred time.
        """
        result = self.builders[type_](t)
        if result is None:  # pool empty: create instead
            fallback = _FALLBACK.get(source)
            if fallback is None:
                fallback = "arrears.verified" if self.rng.random() < 0.3 else "employer.inspected"
            type_ = fallback
            result = self.builders[type_](t)
        assert result is not None, f"{type_} needs no pool"
        unit, payload, occurred = result
        return self.envelope(source, type_, unit, payload, occurred), occurred
