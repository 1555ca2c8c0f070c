"""The slot loop: one line per slot, clean or dirty, in recorded order of the campaign."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from contracts.clock import CST
from contracts.errors import ValidationError
from contracts.events import parse_event
from pipeline.generate.dirt import _Dirt
from pipeline.generate.rates import (
    JANUARY_FIX_BOOST,
    P_BAD,
    P_CONFLICT,
    P_CORRECTION,
    P_EXACT_RESEND,
    P_LATE_IN_FIRST_WEEK,
    P_RETRACTION,
)
from pipeline.generate.records import _Kind


class _World(_Dirt):
    """All the generator's state and builders; ``lines()`` walks the campaign slot by slot."""

    # -- the slot loop --

    def lines(self) -> Iterator[tuple[bytes, dt.datetime, _Kind]]:
        rng = self.rng
        first_week_end = self.cutoff + 7 * 86400
        for i in range(self.options.events):
            t = int(self.timeline.at(i) + rng.uniform(-90, 90))
            t = min(max(t, self.start), self.end)
            self.now = max(self.now, t)
            january = self.cutoff < t <= first_week_end
            boost = JANUARY_FIX_BOOST if january and self.december else 1
            r = rng.random()
            out: tuple[bytes, int, _Kind] | None = None
            if r < P_BAD:
                out = self._bad(t)
            elif (r := r - P_BAD) < P_EXACT_RESEND:
                out = self._exact_resend()
            elif (r := r - P_EXACT_RESEND) < P_CONFLICT:
                out = self._conflict()
            elif (r := r - P_CONFLICT) < P_CORRECTION * boost:
                out = self._correction(t, january)
            elif (r := r - P_CORRECTION * boost) < P_RETRACTION * boost:
                out = self._retraction(t, january)
            elif january and rng.random() < P_LATE_IN_FIRST_WEEK:
                late_at = rng.randint(self.cutoff - 6 * 86400, self.cutoff)
                out = self._clean(late_at, late=True, recorded=t)
            if out is None:
                out = self._clean(t)
            line, recorded, kind = out
            yield line, dt.datetime.fromtimestamp(recorded, CST), kind

    def reason_of(self, line: bytes) -> str:
        try:
            parse_event(line, self.registry)
        except ValidationError as err:
            return err.reason
        return "accepted (generator bug)"
