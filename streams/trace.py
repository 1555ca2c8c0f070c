"""The streams' diagnostics trace: one JSON line per chunk and rebalance step.

Records go to the logger `arrears.streams.trace` at DEBUG level, each with its fields
in `record.trace`; `JsonLines` renders them as

    {"t": <epoch s>, "w": <worker id>, "pid": <pid>, "what": "chunk-write", <fields>...}

Nothing is traced unless the logger is enabled for DEBUG: `arrears worker --trace FILE`
attaches a file handler (`trace_to`). A chunk's line lists the records it handled as
`ev`: `[topic tail, offset, first three letters of the status]`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

__all__ = ["LOGGER", "Tracer", "JsonLines", "trace_to", "tp_names", "by_tp"]

LOGGER = logging.getLogger("arrears.streams.trace")


class JsonLines(logging.Formatter):
    """A trace record as one JSON line; other records as their message."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "trace", None)
        if fields is None:
            return record.getMessage()
        return json.dumps(
            {
                "t": round(record.created, 4),
                "w": getattr(record, "worker_id", None),
                "pid": record.process,
                "what": record.getMessage(),
                **fields,
            }
        )


class Tracer:
    """One worker's trace: `tracer("what", field=value, ...)`, a no-op unless enabled."""

    def __init__(self, worker_id: str, logger: logging.Logger = LOGGER) -> None:
        self.worker_id = worker_id
        self.logger = logger

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)

    def __call__(self, what: str, **fields: Any) -> None:
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(what, extra={"trace": fields, "worker_id": self.worker_id})


class _TP(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...


def _name(tp: _TP, tail: int | None) -> str:
    return f"{tp.topic[-tail:] if tail else tp.topic}:{tp.partition}"


def tp_names(tps: Iterable[_TP], tail: int | None = None) -> list[str]:
    """Sorted `topic:partition` names, topics cut to their last `tail` characters."""
    return sorted(_name(tp, tail) for tp in tps)


def by_tp(offsets: Mapping[Any, int], tail: int | None = None) -> dict[str, int]:
    """`topic:partition` -> offset, for a trace line or a log message."""
    return {_name(tp, tail): offset for tp, offset in offsets.items()}


def trace_to(path: Path, logger: logging.Logger = LOGGER) -> logging.Handler:
    """Append the trace to `path` (one line per record, flushed as written) and enable it.

    The trace does not propagate to the worker's own log. Returns the handler, so a
    caller can `logger.removeHandler` it again.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(os.fspath(path), mode="a", encoding="utf-8")
    handler.setFormatter(JsonLines())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return handler
