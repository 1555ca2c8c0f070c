"""`arrears worker`'s status line: every few seconds (and at the end) what the worker owns,
how many events it applied, how far its partitions are behind the log, its last commit.

It reads the worker's own `/status/` page (partitions, counters) and, from the broker, the
group's committed offsets and the log's end for the partitions the worker owns.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from kafka import KafkaAdminClient, TopicPartition
from kafka.errors import KafkaError

from contracts.clock import CST
from infra.admin import admin_client, end_offsets

__all__ = ["StatusLine", "describe"]


def describe(
    worker_id: str, status: dict[str, Any], lag: dict[str, int] | None, last_commit: str | None
) -> str:
    """One line: `worker w1: partitions 0,1,2; 12,345 events applied; lag
    inspection 0, court 12; last commit 12:03:04+08:00` (when the group's committed
    offsets last moved, China Standard Time)."""
    owned = status.get("partitions", [])
    counts = status.get("counts", {})
    state = "" if status.get("ready") else " (recovering or rebalancing)"
    parts = ",".join(str(p) for p in owned) or "none"
    behind = (
        "lag ?"
        if lag is None
        else "lag " + (", ".join(f"{t} {n:,}" for t, n in sorted(lag.items())) or "0")
    )
    return (
        f"worker {worker_id}{state}: partitions {parts}; {counts.get('applied', 0):,} events "
        f"applied; {behind}; last commit {last_commit or 'none yet'}"
    )


class StatusLine:
    """A daemon thread printing `describe(...)` every `every` seconds through `say`;
    `topics`: each source topic and the name the line gives it."""

    def __init__(
        self,
        worker_id: str,
        url: str,
        bootstrap: str,
        group: str,
        topics: Mapping[str, str],
        *,
        every: float,
        say: Callable[[str], None],
    ) -> None:
        self.worker_id, self.url, self.bootstrap, self.group = worker_id, url, bootstrap, group
        self.topics = dict(topics)  # topic -> what the line calls it (its source)
        self.every, self.say = every, say
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="status-line", daemon=True)
        self._committed: dict[TopicPartition, int] = {}
        self._last_commit: str | None = None
        self._last: tuple[dict[str, Any], dict[str, int] | None] | None = None
        self._admin: KafkaAdminClient | None = None  # opened by the first line

    def start(self) -> StatusLine:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and print the last line seen (the worker's pages are gone by now)."""
        self._stop.set()
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._close_admin()
        if self._last is None:
            self.say(f"worker {self.worker_id} stopped")
        else:
            self.say(describe(f"{self.worker_id} stopped", *self._last, self._last_commit))

    def _close_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(KafkaError, OSError):
                admin.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.every or None):  # 0: no line until the end
            self.say(self.line())

    def line(self) -> str:
        try:
            with urllib.request.urlopen(f"{self.url}/status/", timeout=2) as answer:
                status = dict(json.load(answer))
        except (OSError, ValueError):
            if self._last is None:
                return f"worker {self.worker_id}: starting (no answer yet at {self.url}/status/)"
            # it answered before: it is stopping (Ctrl-C), or too busy to answer in 2 s
            return f"worker {self.worker_id}: no answer at {self.url}/status/ (stopping or busy)"
        lag = self._lag(status.get("partitions", []))
        self._last = (status, lag)
        return describe(self.worker_id, status, lag, self._last_commit)

    def _lag(self, owned: list[int]) -> dict[str, int] | None:
        """Records behind the log's end per source topic, for the owned partitions (None
        when the broker does not answer); notes when the committed offsets last moved."""
        tps = [TopicPartition(t, p) for t in self.topics for p in owned]
        try:
            # One client for every line: a new one's connections and metadata cost the
            # worker, whose process this thread shares, more than the line itself.
            self._admin = self._admin or admin_client(self.bootstrap)
            ends = end_offsets(self._admin, tps)
            committed = self._admin.list_group_offsets({self.group: None}).get(self.group, {})
        except (KafkaError, OSError):
            self._close_admin()  # the next line connects again
            return None
        wanted = set(tps)
        now = {
            tp: int(meta.offset)
            for tp, meta in committed.items()
            if tp in wanted and meta.offset >= 0
        }
        if any(self._committed.get(tp) != offset for tp, offset in now.items()):
            self._last_commit = dt.datetime.now(CST).isoformat(timespec="seconds")[11:]
        self._committed = now
        lag: dict[str, int] = {}
        for tp in tps:
            name = self.topics[tp.topic]
            lag[name] = lag.get(name, 0) + max(0, ends.get(tp, 0) - now.get(tp, 0))
        return lag
