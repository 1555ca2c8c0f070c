"""Thresholds of the quality contracts, from a TOML file (default: the shipped quality.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.errors import ContractError

__all__ = ["DEFAULT_QUALITY_CONFIG", "QualityConfig", "QualityConfigError", "load_quality_config"]

DEFAULT_QUALITY_CONFIG = Path(__file__).with_name("quality.toml")
_DAY_S = 86_400


class QualityConfigError(ContractError, ValueError):
    """The quality config file is missing, unreadable or has a wrong value."""


@dataclass(frozen=True)
class QualityConfig:
    """What the graded expectations compare against (see quality.toml for the reasons)."""

    #: a source with no event in (cutoff - this, cutoff] is a dead feed (critical)
    feed_max_silence_s: int = 7 * _DAY_S
    #: per-source overrides of feed_max_silence_s
    feed_max_silence_by_source: dict[str, int] = field(default_factory=dict)
    #: open dead letters for the cutoff: above `warn` a warning, above `critical` critical
    dead_letters_warn_above: int = 0
    dead_letters_critical_above: int = 100
    #: resolved amount per worker, in yuan: outside these bounds is implausible (yuan/fen mix-ups)
    min_yuan_per_worker: int = 10
    max_yuan_per_worker: int = 1_000_000
    #: how many offending rows an expectation keeps in its result (the count is always exact)
    max_listed: int = 200
    source: str = "contracts/quality/quality.toml"

    def max_silence_s(self, source: str) -> int:
        return self.feed_max_silence_by_source.get(source, self.feed_max_silence_s)


def load_quality_config(path: str | Path | None = None) -> QualityConfig:
    """Read a quality config; None means the shipped quality.toml."""
    file = DEFAULT_QUALITY_CONFIG if path is None else Path(path)
    where = "contracts/quality/quality.toml" if path is None else str(file)
    try:
        with file.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise QualityConfigError(f"quality config {file} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise QualityConfigError(f"quality config {file} is not valid TOML: {err}") from None
    feeds = _table(raw, "feeds", where)
    dead = _table(raw, "dead_letters", where)
    amounts = _table(raw, "amount_per_worker", where)
    report = raw.get("report", {})
    by_source = {
        str(k): _days(v, f"{where}: feeds.max_silence_days_by_source.{k}")
        for k, v in dict(feeds.get("max_silence_days_by_source", {})).items()
    }
    config = QualityConfig(
        feed_max_silence_s=_days(
            feeds.get("max_silence_days", 7), f"{where}: feeds.max_silence_days"
        ),
        feed_max_silence_by_source=by_source,
        dead_letters_warn_above=_count(
            dead.get("warn_above", 0), f"{where}: dead_letters.warn_above"
        ),
        dead_letters_critical_above=_count(
            dead.get("critical_above", 100), f"{where}: dead_letters.critical_above"
        ),
        min_yuan_per_worker=_count(
            amounts.get("min_yuan", 10), f"{where}: amount_per_worker.min_yuan"
        ),
        max_yuan_per_worker=_count(
            amounts.get("max_yuan", 1_000_000), f"{where}: amount_per_worker.max_yuan"
        ),
        max_listed=_count(report.get("max_listed", 200), f"{where}: report.max_listed"),
        source=where,
    )
    if config.dead_letters_critical_above < config.dead_letters_warn_above:
        raise QualityConfigError(
            f"{where}: dead_letters.critical_above ({config.dead_letters_critical_above}) must be "
            f">= warn_above ({config.dead_letters_warn_above})"
        )
    if config.max_yuan_per_worker <= config.min_yuan_per_worker:
        raise QualityConfigError(f"{where}: amount_per_worker.max_yuan must be above min_yuan")
    return config


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise QualityConfigError(f"{where}: [{key}] must be a table")
    return value


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise QualityConfigError(f"{what} = {value!r}; expected a whole number >= 0")
    return value


def _days(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise QualityConfigError(f"{what} = {value!r}; expected a number of days > 0, e.g. 7")
    return int(value * _DAY_S)
