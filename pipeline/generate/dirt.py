"""The controlled dirt: resends, conflicts, corrections, retractions and bad records."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

from pipeline.generate.bad import BAD_KINDS, spoil
from pipeline.generate.events import CleanEvents
from pipeline.generate.history import History
from pipeline.generate.names import RETRACT_REASONS
from pipeline.generate.pools import Pools
from pipeline.generate.rates import CORRECTABLE, RETRACTABLE, SELF_CONTAINED
from pipeline.generate.records import Kind, Line, Sent
from pipeline.generate.state import State
from pipeline.generate.util import (
    amount_fen,
    copy_event,
    encode,
    fen_to_yuan,
    iso,
    order_envelope,
)


class Dirt:
    """Dirty lines made from earlier events; each returns None when it has nothing to work on."""

    def __init__(self, state: State, pools: Pools, history: History, events: CleanEvents) -> None:
        self.state = state
        self.pools = pools
        self.history = history
        self.events = events
        self.rng = state.rng
        #: the bad kinds still to come in this round (every kind once, in a seeded order)
        self.bad_order: list[str] = []

    def exact_resend(self) -> Line | None:
        """An earlier event again: same content, other key order and white space."""
        recent = self.history.recent
        if not recent:
            return None
        sent = self.rng.choice(recent)
        obj = _reordered(sent.obj, self.rng)
        seps = self.rng.choice(((", ", ": "), (",", ": "), (", ", ":")))
        line = json.dumps(obj, ensure_ascii=False, separators=seps).encode()
        return line, sent.recorded, Kind("exact_resend", sent.obj["source"], sent.obj["type"])

    def conflict(self) -> Line | None:
        """An earlier ``event_id`` with other content and no ``supersedes``."""
        recent = self.history.recent
        if not recent:
            return None
        sent = self.rng.choice(recent)
        if "supersedes" in sent.obj:  # a conflict is a resend without supersedes
            return None
        obj = copy_event(sent.obj)
        _alter(obj, self.rng)
        return encode(obj), sent.recorded, Kind("conflicting_resend", obj["source"], obj["type"])

    def correction(self, t: int, january: bool) -> Line | None:
        """A new event that ``supersedes`` an earlier one, with a corrected figure."""
        state = self.state
        sent = self.history.target(january, CORRECTABLE)
        if sent is None:
            return None
        obj = copy_event(sent.obj)
        _alter(obj, self.rng, payload_only=True)
        obj["event_id"] = state.event_id(obj["source"], obj["unit"])
        recorded = max(t, sent.recorded) + self.rng.randint(60, 3600)
        obj["recorded_at"] = iso(recorded)
        obj["supersedes"] = sent.obj["event_id"]
        order_envelope(obj)
        self.history.recent.append(Sent(obj, sent.occurred, recorded))
        late = sent.occurred <= state.cutoff < recorded
        return encode(obj), recorded, Kind("correction", obj["source"], obj["type"], late)

    def retraction(self, t: int, january: bool) -> Line | None:
        """An ``event.retracted`` of an earlier event."""
        state = self.state
        sent = self.history.target(january, RETRACTABLE)
        if sent is None:
            return None
        occurred = min(max(t, sent.occurred + 60), state.end)
        recorded = max(occurred, sent.recorded) + self.rng.randint(60, 3600)
        obj = {
            "event_id": state.event_id(sent.obj["source"], sent.obj["unit"]),
            "source": sent.obj["source"],
            "type": "event.retracted",
            "occurred_at": iso(occurred),
            "recorded_at": iso(recorded),
            "unit": sent.obj["unit"],
            "payload": {
                "retracts": sent.obj["event_id"],
                "reason": self.rng.choice(RETRACT_REASONS),
            },
        }
        self.history.recent.append(Sent(obj, occurred, recorded))
        late = occurred <= state.cutoff < recorded
        return encode(obj), recorded, Kind("retraction", obj["source"], obj["type"], late)

    def bad(self, t: int) -> Line:
        """A record the contracts reject: a fresh event spoiled in the next of the bad kinds."""
        rng = self.rng
        if not self.bad_order:  # cycle through every kind, in a seeded order
            self.bad_order = list(BAD_KINDS)
            rng.shuffle(self.bad_order)
        kind = self.bad_order.pop()
        types, _ = BAD_KINDS[kind]
        type_ = rng.choice(types or SELF_CONTAINED)
        source = {"dispute.resolved": "mediation", "execution.concluded": "court"}.get(
            type_, "inspection"
        )
        # A bad line opens no case: drop the one its base event may have added.
        open_cases = len(self.pools.open_cases)
        obj, occurred = self.events.event(source, type_, t)
        del self.pools.open_cases[open_cases:]
        recorded = occurred + self.state.delay(type_)
        obj["recorded_at"] = iso(recorded)
        order_envelope(obj)
        return spoil(kind, obj, rng), recorded, Kind("bad", bad=kind)


def _reordered(obj: Any, rng: random.Random) -> Any:
    """The same JSON value with keys in another order (recursively)."""
    if isinstance(obj, dict):
        items = list(obj.items())
        rng.shuffle(items)
        return {k: _reordered(v, rng) for k, v in items}
    return obj


def _alter(obj: dict[str, Any], rng: random.Random, *, payload_only: bool = False) -> None:
    """Change the content of an event copy (a corrected figure, or a conflicting one)."""
    payload = obj["payload"]
    if "migrant_workers" in payload:
        payload["workers"] += rng.randint(1, 5)
        payload["migrant_workers"] = min(
            payload["workers"], payload["migrant_workers"] + rng.randint(0, 2)
        )
    elif "amount" in payload:
        fen = amount_fen(payload["amount"])
        payload["amount"] = fen_to_yuan(
            max(100, fen + rng.choice((-1, 1)) * rng.randint(100, max(101, fen // 5)))
        )
    elif "amount_claimed" in payload:
        payload["workers_claimed"] += 1
    elif "reason" in payload:
        payload["reason"] += "（补充说明）"
    elif not payload_only:
        stamp = dt.datetime.fromisoformat(obj["occurred_at"]) + dt.timedelta(minutes=17)
        obj["occurred_at"] = stamp.isoformat()
    else:
        payload["employer"] = dict(
            payload["employer"], name=payload["employer"]["name"] + "（更正）"
        )
