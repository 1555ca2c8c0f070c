"""A clean event of any source and type, dispatched to its builder."""

from __future__ import annotations

import bisect
from typing import Any

from pipeline.generate.complaints import _ComplaintEvents
from pipeline.generate.disputes import _DisputeEvents
from pipeline.generate.inspection import _InspectionEvents
from pipeline.generate.rates import _SELF_CONTAINED, _TYPE_CUM, _TYPE_KEYS
from pipeline.generate.records import _Kind
from pipeline.generate.util import _iso, _order_envelope


class _Events(_InspectionEvents, _DisputeEvents, _ComplaintEvents):
    """Clean events: pick a type by weight, build it, stamp and remember it."""

    def _clean(
        self, t: int, *, late: bool = False, recorded: int | None = None
    ) -> tuple[bytes, int, _Kind]:
        rng = self.rng
        if late:
            source, type_ = "inspection", rng.choice(_SELF_CONTAINED)
            if type_ == "dispute.resolved":
                source = "mediation"
            elif type_ == "execution.concluded":
                source = "court"
        else:
            source, type_ = _TYPE_KEYS[bisect.bisect_left(_TYPE_CUM, rng.random() * _TYPE_CUM[-1])]
        obj, occurred = self._event(source, type_, t)
        rec = recorded if recorded is not None else occurred + self._delay(type_)
        obj["recorded_at"] = _iso(rec)
        _order_envelope(obj)
        self._remember(obj, occurred, rec)
        is_late = occurred <= self.cutoff < rec
        return self._encode(obj), rec, _Kind("clean", obj["source"], obj["type"], is_late)

    def _event(self, source: str, type_: str, t: int) -> tuple[dict[str, Any], int]:
        """Build one event of (source, type) at about time t, falling back when a pool is empty."""
        make = getattr(self, "_ev_" + type_.replace(".", "_"))
        result = make(t)
        if result is None:  # pool empty: create instead
            fallback = {
                "complaint": "lead.received",
                "mediation": "dispute.resolved",
                "court": "execution.concluded",
            }.get(source)
            if fallback is None:
                fallback = "arrears.verified" if self.rng.random() < 0.3 else "employer.inspected"
            type_ = fallback
            result = getattr(self, "_ev_" + type_.replace(".", "_"))(t)
        unit, payload, occurred = result
        obj = {
            "event_id": self._event_id(source, unit),
            "source": source,
            "type": type_,
            "occurred_at": _iso(occurred),
            "unit": unit,
            "payload": payload,
        }
        return obj, occurred
