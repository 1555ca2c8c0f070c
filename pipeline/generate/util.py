"""Pure helpers: weighted picks, money as sources write it, times and envelope order."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from contracts.clock import CST


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, CST).isoformat()


def _cumulative(weights: tuple[float, ...] | list[float]) -> list[float]:
    total = sum(weights)
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


def _pick(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    r = rng.random() * sum(w for _, w in choices)
    for value, weight in choices:
        r -= weight
        if r < 0:
            return value
    return choices[-1][0]


def _pop_random(rng: random.Random, pool: list[Any]) -> Any:
    if not pool:
        return None
    k = rng.randrange(len(pool))
    pool[k], pool[-1] = pool[-1], pool[k]
    return pool.pop()


def _fen_to_yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _yuan(rng: random.Random, fen: int) -> str:
    """Amounts as sources write them: mostly "12500.00", some "12500" or "12500.5"."""
    text = _fen_to_yuan(fen)
    r = rng.random()
    if r < 0.15 and text.endswith(".00"):
        return text[:-3]
    if r < 0.2 and text.endswith("0") and not text.endswith(".00"):
        return text[:-1]
    return text


def _order_envelope(obj: dict[str, Any]) -> None:
    """Put the envelope keys in the SPEC order (payload last), in place."""
    payload = obj.pop("payload")
    for key in ("event_id", "source", "type", "occurred_at", "recorded_at", "unit", "supersedes"):
        if key in obj:
            obj[key] = obj.pop(key)
    obj["payload"] = payload


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    out["payload"] = dict(obj["payload"])
    return out


def _amount_fen(text: str) -> int:
    whole, _, dec = text.partition(".")
    return int(whole) * 100 + int(dec.ljust(2, "0") or 0)
