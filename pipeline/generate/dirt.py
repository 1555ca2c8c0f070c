"""The controlled dirt: resends, conflicts, corrections, retractions and bad records."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

from pipeline.generate.bad import BAD_KINDS, _spoil
from pipeline.generate.events import _Events
from pipeline.generate.names import _RETRACT_REASONS
from pipeline.generate.rates import _CORRECTABLE, _RETRACTABLE, _SELF_CONTAINED
from pipeline.generate.records import _Kind, _Sent
from pipeline.generate.util import _amount_fen, _copy, _fen_to_yuan, _iso, _order_envelope


class _Dirt(_Events):
    """Dirty lines made from earlier events; each returns None when it has nothing to work on."""

    def _exact_resend(self) -> tuple[bytes, int, _Kind] | None:
        if not self.recent:
            return None
        sent = self.rng.choice(self.recent)
        obj = _reordered(sent.obj, self.rng)
        seps = self.rng.choice(((", ", ": "), (",", ": "), (", ", ":")))
        line = json.dumps(obj, ensure_ascii=False, separators=seps).encode()
        return line, sent.recorded, _Kind("exact_resend", sent.obj["source"], sent.obj["type"])

    def _conflict(self) -> tuple[bytes, int, _Kind] | None:
        if not self.recent:
            return None
        sent = self.rng.choice(self.recent)
        if "supersedes" in sent.obj:  # a conflict is a resend without supersedes
            return None
        obj = _copy(sent.obj)
        _alter(obj, self.rng)
        return (
            self._encode(obj),
            sent.recorded,
            _Kind("conflicting_resend", obj["source"], obj["type"]),
        )

    def _target(self, january: bool, allowed: frozenset[str]) -> _Sent | None:
        pool: Any = self.december if january and self.december else self.fixable
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

    def _correction(self, t: int, january: bool) -> tuple[bytes, int, _Kind] | None:
        sent = self._target(january, _CORRECTABLE)
        if sent is None:
            return None
        obj = _copy(sent.obj)
        _alter(obj, self.rng, payload_only=True)
        obj["event_id"] = self._event_id(obj["source"], obj["unit"])
        recorded = max(t, sent.recorded) + self.rng.randint(60, 3600)
        obj["recorded_at"] = _iso(recorded)
        obj["supersedes"] = sent.obj["event_id"]
        _order_envelope(obj)
        self.recent.append(_Sent(obj, sent.occurred, recorded))
        return (
            self._encode(obj),
            recorded,
            _Kind(
                "correction", obj["source"], obj["type"], sent.occurred <= self.cutoff < recorded
            ),
        )

    def _retraction(self, t: int, january: bool) -> tuple[bytes, int, _Kind] | None:
        sent = self._target(january, _RETRACTABLE)
        if sent is None:
            return None
        occurred = min(max(t, sent.occurred + 60), self.end)
        recorded = max(occurred, sent.recorded) + self.rng.randint(60, 3600)
        obj = {
            "event_id": self._event_id(sent.obj["source"], sent.obj["unit"]),
            "source": sent.obj["source"],
            "type": "event.retracted",
            "occurred_at": _iso(occurred),
            "recorded_at": _iso(recorded),
            "unit": sent.obj["unit"],
            "payload": {
                "retracts": sent.obj["event_id"],
                "reason": self.rng.choice(_RETRACT_REASONS),
            },
        }
        self.recent.append(_Sent(obj, occurred, recorded))
        return (
            self._encode(obj),
            recorded,
            _Kind("retraction", obj["source"], obj["type"], occurred <= self.cutoff < recorded),
        )

    def _bad(self, t: int) -> tuple[bytes, int, _Kind]:
        rng = self.rng
        if not self.bad_order:  # cycle through every kind, in a seeded order
            self.bad_order = list(BAD_KINDS)
            rng.shuffle(self.bad_order)
        kind = self.bad_order.pop()
        types, _ = BAD_KINDS[kind]
        type_ = rng.choice(types or _SELF_CONTAINED)
        source = {"dispute.resolved": "mediation", "execution.concluded": "court"}.get(
            type_, "inspection"
        )
        # A bad line opens no case: drop the one its base event may have added.
        open_cases = len(self.open_cases)
        obj, occurred = self._event(source, type_, t)
        del self.open_cases[open_cases:]
        recorded = occurred + self._delay(type_)
        obj["recorded_at"] = _iso(recorded)
        _order_envelope(obj)
        return _spoil(kind, obj, rng), recorded, _Kind("bad", bad=kind)


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
        fen = _amount_fen(payload["amount"])
        payload["amount"] = _fen_to_yuan(
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
