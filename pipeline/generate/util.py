"""Pure helpers: weighted picks, money as sources write it, times, JSON and envelope order."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

from contracts.clock import CST

_COMPACT = (",", ":")

#: The clean line's JSON text: no spaces, Chinese as is.
compact_json = json.JSONEncoder(ensure_ascii=False, separators=_COMPACT).encode


def encode(obj: dict[str, Any]) -> bytes:
    """An event object as the bytes of one clean line (without the newline)."""
    return compact_json(obj).encode()


def iso(epoch: int) -> str:
    """Epoch seconds as ISO 8601 in China Standard Time."""
    return dt.datetime.fromtimestamp(epoch, CST).isoformat()


def cumulative(weights: tuple[float, ...] | list[float]) -> list[float]:
    """Normalised running sums of ``weights``, the last exactly 1.0 (for a bisect)."""
    total = sum(weights)
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


def pick(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    """One value of ``(value, weight)`` pairs, by weight."""
    r = rng.random() * sum(w for _, w in choices)
    for value, weight in choices:
        r -= weight
        if r < 0:
            return value
    return choices[-1][0]


def pop_random(rng: random.Random, pool: list[Any]) -> Any:
    """Remove and return a random item of ``pool`` (order not kept), or None if it is empty."""
    if not pool:
        return None
    k = rng.randrange(len(pool))
    pool[k], pool[-1] = pool[-1], pool[k]
    return pool.pop()


def fen_to_yuan(fen: int) -> str:
    """An amount in fen as yuan with two decimals: 1250000 -> "12500.00"."""
    return f"{fen // 100}.{fen % 100:02d}"


def yuan(rng: random.Random, fen: int) -> str:
    """Amounts as sources write them: mostly "12500.00", some "12500" or "12500.5"."""
    text = fen_to_yuan(fen)
    r = rng.random()
    if r < 0.15 and text.endswith(".00"):
        return text[:-3]
    if r < 0.2 and text.endswith("0") and not text.endswith(".00"):
        return text[:-1]
    return text


def amount_fen(text: str) -> int:
    """A yuan amount as written ("12500", "12500.5", "12500.00") in fen."""
    whole, _, dec = text.partition(".")
    return int(whole) * 100 + int(dec.ljust(2, "0") or 0)


def order_envelope(obj: dict[str, Any]) -> None:
    """Put the envelope keys in the SPEC order (payload last), in place."""
    payload = obj.pop("payload")
    for key in ("event_id", "source", "type", "occurred_at", "recorded_at", "unit", "supersedes"):
        if key in obj:
            obj[key] = obj.pop(key)
    obj["payload"] = payload


def copy_event(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of an event object that may be changed without touching the original's payload."""
    out = dict(obj)
    out["payload"] = dict(obj["payload"])
    return out
