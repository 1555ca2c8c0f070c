"""The events already written that resends, corrections and retractions are made from."""

from __future__ import annotations

from collections import deque
from collections.abc import MutableSequence
from typing import Any

from pipeline.generate.rates import DECEMBER_MAX, RECENT_MAX, RETRACTABLE
from pipeline.generate.records import Sent
from pipeline.generate.state import State


class History:
    """A bounded memory of the events sent: the latest ones, and a sample of late December's.

    ``recent`` feeds the resends; ``fixable`` (retractable types) and ``december`` (a
    reservoir sample of the ten days before the progress cutoff) feed the corrections and
    retractions, each event at most once.
    """

    def __init__(self, state: State) -> None:
        self.rng = state.rng
        self.cutoff = state.cutoff
        self.recent: deque[Sent] = deque(maxlen=RECENT_MAX)
        self.fixable: deque[Sent] = deque(maxlen=RECENT_MAX)
        self.december: list[Sent] = []
        self.december_seen = 0

    def remember(self, obj: dict[str, Any], occurred: int, recorded: int) -> None:
        """Keep a clean event for later resends, corrections and retractions."""
        sent = Sent(obj, occurred, recorded)
        self.recent.append(sent)
        if obj["type"] in RETRACTABLE:
            self.fixable.append(sent)
            # late-December events: a reservoir sample for the January corrections
            if self.cutoff - 10 * 86400 < occurred <= self.cutoff:
                self.december_seen += 1
                if len(self.december) < DECEMBER_MAX:
                    self.december.append(sent)
                else:
                    k = self.rng.randrange(self.december_seen)
                    if k < DECEMBER_MAX:
                        self.december[k] = sent

    def target(self, january: bool, allowed: frozenset[str]) -> Sent | None:
        """An unused earlier event of an ``allowed`` type to correct or retract, or None.

        In the first week of January the targets are late-December events, as long as any
        are left. A few tries at most: None when they all hit the wrong type.
        """
        pool: MutableSequence[Sent] = self.december if january and self.december else self.fixable
        for _ in range(4):
            if not pool:
                return None
            k = self.rng.randrange(len(pool))
            sent = pool[k]
            if sent.obj["type"] in allowed and not sent.used:
                pool[k] = pool[-1]
                pool.pop()
                sent.used = True
                return sent
        return None
