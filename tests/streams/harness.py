"""Drive the tallies agent through Faust's `test_context()` (no broker)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from contracts.fold import rollup
from infra.settings import Settings
from streams._faust import generation
from streams.app import create_runtime
from streams.changelog import Fenced, Record
from streams.engine import with_journal
from streams.tallies import own_figures
from tests.streams.workload import FINAL, TREE


class ListWriter:
    """A changelog partition's writer without Kafka: what it sends goes to a list.

    Always of the app's current generation, ready until a test sets `state` (`fenced`,
    `retired`); `fail_sends` makes the next sends raise `Fenced`, as a broker's refusal.
    """

    def __init__(self, partition: int, sink: list[Record], app: Any) -> None:
        self.partition = partition
        self.sink = sink
        self.app = app
        self.state = "ready"
        self.fail_sends = 0

    @property
    def generation(self) -> int:
        return generation(self.app)

    def usable(self) -> bool:
        return self.state == "ready"

    async def settled(self) -> bool:
        return self.usable()

    async def send(self, records: list[Record]) -> None:
        if not self.usable():
            raise Fenced(f"writer {self.state}")
        if self.fail_sends:
            self.fail_sends -= 1
            self.state = "fenced"
            raise Fenced("refused by the broker")
        self.sink.extend(records)


class ListOwnership:
    """`streams.ownership.Ownership` without Kafka: a `ListWriter` for every partition."""

    def __init__(self, app: Any, changelog: dict[int, list[Record]]) -> None:
        self.app = app
        self.changelog = changelog
        self.writers: dict[int, ListWriter] = {}
        self.take_overs: list[tuple[list[int], int]] = []

    def writer(self, partition: int) -> ListWriter:
        if partition not in self.writers:
            sink = self.changelog.setdefault(partition, [])
            self.writers[partition] = ListWriter(partition, sink, self.app)
        return self.writers[partition]

    def fenced(self) -> frozenset[int]:
        return frozenset(p for p, w in self.writers.items() if w.state == "fenced")

    def flush(self) -> list[Awaitable[Any]]:
        return []

    async def release(
        self, partitions: Iterable[int], generation: int
    ) -> tuple[frozenset[int], frozenset[int]]:
        wanted = set(partitions)
        kept = {p: w for p, w in self.writers.items() if p in wanted and w.usable()}
        released = frozenset(self.writers) - frozenset(kept)
        self.writers = kept
        return frozenset(kept), released

    async def take_over(
        self, partitions: Iterable[int], generation: int, table: Any, current: Callable[[], bool]
    ) -> bool:
        self.take_overs.append((sorted(partitions), generation))
        for p in partitions:
            self.writers.pop(p, None)
        return True

    async def close(self) -> None:
        self.writers.clear()


class Harness:
    """One app, its agent in a test context, dead letters collected in a list."""

    def __init__(self, agent: Any, runtime: Any) -> None:
        self.agent = agent
        self.runtime = runtime
        self.dead_letters: list[dict[str, Any]] = []
        #: partition -> the changelog records sent for it, in order.
        self.changelog: dict[int, list[tuple[bytes, bytes]]] = {}

    async def put(
        self,
        record: dict[str, Any] | bytes,
        *,
        partition: int = 0,
        offset: int | None = None,
        wait: bool = True,
    ) -> None:
        value = record if isinstance(record, bytes) else json.dumps(record).encode()
        if offset is not None:
            self.agent.sent_offset = offset  # Kafka delivering that offset again
        await self.agent.put(value, key=_unit_of(value), partition=partition, wait=wait)

    async def settle(self, handled: int, timeout: float = 30.0) -> None:
        """Wait until the agent has handled `handled` records in total."""
        deadline = time.monotonic() + timeout
        while self.handled() < handled:
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent handled {self.handled()} of {handled} records")
            await asyncio.sleep(0.02)

    def handled(self) -> int:
        counts = self.runtime.counts
        return sum(counts[k] for k in ("skipped", "applied", "duplicate", "inactive", "rejected"))

    def figures(
        self, day: int = FINAL, partitions: frozenset[int] = frozenset({0, 1, 2})
    ) -> dict[tuple[str, str], int]:
        table = self.runtime.table.data
        return rollup(own_figures(with_journal(table, partitions), partitions, day), TREE)

    def recovered(self) -> dict[str, Any]:
        """The table Faust's recovery would rebuild from the changelog records sent so far."""
        return {
            json.loads(k): json.loads(v) for records in self.changelog.values() for k, v in records
        }

    def cell(self, unit: str, cell_id: str, day: int = FINAL) -> int:
        return self.figures(day)[(unit, cell_id)]


def run(test: Callable[[Harness], Awaitable[None]]) -> None:
    """Run `test` against a fresh app in a Faust agent test context."""

    async def main() -> None:
        settings = Settings(
            bootstrap_servers="localhost:1", topic_prefix="agenttest.", partitions=3
        )
        runtime = create_runtime(
            settings, worker_id="test", web_port=None, on_fatal=lambda exc: None
        )
        runtime.app.finalize()
        runtime.app.flow_control.resume()
        async with runtime.agent.test_context() as agent:
            harness = Harness(agent, runtime)

            async def sink(records: list[tuple[bytes, bytes]]) -> None:
                harness.dead_letters.extend(json.loads(v) for _, v in records)

            runtime.send_dead_letters = sink

            runtime.ownership = ListOwnership(runtime.app, harness.changelog)
            await test(harness)

    asyncio.run(main())


def _unit_of(value: bytes) -> bytes:
    """The key a source system gives a record: its unit (a record with none: b"")."""
    try:
        unit = json.loads(value).get("unit")
    except (ValueError, AttributeError):
        return b""
    return unit.encode() if isinstance(unit, str) else b""
