"""What the agent and the web pages share: the engine, the table, the counters.

`Runtime.process` applies the agent's batches (per partition, in offset order, in
journaled chunks; see `streams.engine`), `Runtime.own` answers a worker's part of the
live form, and `Runtime.rewind_to_journal` moves the group's offsets to the journal
after an assignment. Why this gives an exactly-once effect under Faust is the module
docstring of `streams.app`; every Faust internal it needs goes through `streams._faust`.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import TP

from contracts.calendar import Campaign
from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import SOURCES, source_topic
from streams import _faust
from streams.changelog import BatchSender, Record, encode
from streams.deadletter import dead_letter_message
from streams.engine import Chunk, Engine, applied_events, journal_key, next_offsets, with_journal
from streams.tallies import Window, own_figures
from streams.trace import Tracer, by_tp, tp_names

__all__ = ["Runtime", "CHUNK_KEYS"]

log = logging.getLogger(__name__)

#: Keys a chunk may change before it is closed: bounds the journal record's size.
CHUNK_KEYS = 1500

#: What a traced chunk handled: (topic tail, offset, status abbreviated).
Seen = list[tuple[str, int, str]]


class Runtime:
    """What the agent and the web pages share: the engine, the table, counters."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        table: Any,
        dead: Any,
        registry: Registry,
        campaign: Campaign,
        worker_id: str,
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        self.app = app
        self.settings = settings
        self.table = table
        self.dead = dead
        self.worker_id = worker_id
        self.window = Window.of(campaign)
        self.registry = registry
        self.engine = Engine(registry, self.window)
        self.sources = frozenset(source_topic(settings, s) for s in SOURCES)
        self.partitions = settings.partitions
        self.on_fatal = on_fatal
        self.counts: Counter[str] = Counter()
        #: The agent (`create_app` sets it): tests drive it through `test_context()`.
        self.agent: Any = None
        #: "topic:partition" -> first and last offset this process handled.
        self.first_offsets: dict[str, int] = {}
        self.last_offsets: dict[str, int] = {}
        #: partition -> future of the last changelog batch sent for it.
        self.last_sent: dict[int, Any] = {}
        #: (partition, records) -> future of the last one's delivery; tests swap in a list.
        self.send_changelog: Callable[[int, list[Record]], Awaitable[Any]] = BatchSender(
            app, table, on_fatal
        )
        #: Where dead letters go; tests swap in a list. Must return only once they are durable.
        self.send_dead_letters: Callable[[list[tuple[bytes, bytes]]], Awaitable[None]] = (
            self._send_to_topic
        )
        #: Diagnostics (`streams.trace`): one JSON line per chunk and rebalance step.
        self.trace = Tracer(worker_id)

    # -- ownership -------------------------------------------------------
    def owned(self) -> frozenset[int]:
        """Source partitions this worker actively owns (tables are co-partitioned)."""
        actives = _faust.assigned_partitions(self.app)
        return frozenset(tp.partition for tp in actives if tp.topic in self.sources)

    def ready(self) -> bool:
        return _faust.recovered(self.app) and not _faust.rebalancing(self.app)

    # -- writing ---------------------------------------------------------
    def _writer(self, pending: list[tuple[str, Any]]) -> Callable[[str, Any], None]:
        data = self.table.data

        def write(key: str, value: Any) -> None:
            # Not `table[key] = value`: that sends one changelog record at a time, to the
            # partition of the current event (in a batch, the last one buffered).
            data[key] = value
            pending.append((key, value))

        return write

    async def _send(self, partition: int, pending: list[tuple[str, Any]]) -> None:
        """Send the changelog records of `pending` writes, in order, and forget them."""
        if pending:
            sent = await self.send_changelog(partition, encode(pending))
            if sent is not None:
                self.last_sent[partition] = sent
            self.counts["changelog_records"] += len(pending)
            pending.clear()

    async def process(self, events: list[Any]) -> None:
        """Apply a batch: per partition, in offset order, in journaled chunks."""
        try:
            await self._process(events)
        except Exception as exc:  # a bug: stop hard rather than ack what was not applied
            log.exception("streams: unexpected error in a batch; stopping the worker")
            self.on_fatal(exc)
            raise

    async def _process(self, events: list[Any]) -> None:
        app, trace = self.app, self.trace
        generation = _faust.generation(app)
        groups: dict[int, list[Any]] = {}
        for event in events:
            message = event.message
            fetched = _faust.message_generation(message)
            if fetched != generation:
                self.counts["stale"] += 1  # fetched before a rebalance: read again from the journal
                trace(
                    "stale",
                    p=message.partition,
                    topic=message.topic[-10:],
                    offset=message.offset,
                    of=fetched,
                    gen=generation,
                )
                continue
            groups.setdefault(message.partition, []).append(event)
        seeks: dict[TP, int] = {}
        for partition, group in groups.items():
            pending: list[tuple[str, Any]] = []
            if self.engine.redo(self.table.data, partition, self._writer(pending)):
                self.counts["redone"] += 1
                trace(
                    "redo",
                    p=partition,
                    gen=generation,
                    a=(self.table.data.get(journal_key(partition)) or {}).get("a"),
                )
                await self._send(partition, pending)
            chunk = Chunk(self.table.data, partition)
            seen: Seen | None = [] if trace.enabled else None
            rejected: list[tuple[bytes, bytes]] = []
            held: set[str] = set()  # topics with a gap: nothing more of them in this batch
            if trace.enabled:
                trace(
                    "chunk-start",
                    p=partition,
                    gen=generation,
                    cur=_faust.generation(app),
                    owned=sorted(self.owned()),
                    a=chunk.applied,
                )
            for event in group:
                message = event.message
                if message.topic in held:
                    self.counts["held"] += 1
                    continue
                raw = message.value if message.value is not None else b""
                verdict = self.engine.handle(chunk, message.topic, message.offset, raw, message.key)
                self.counts[verdict.status] += 1
                if seen is not None:
                    seen.append((message.topic[-10:], message.offset, verdict.status[:3]))
                if verdict.status == "gap":
                    held.add(message.topic)
                    seeks[TP(message.topic, partition)] = self.engine.next_offset(
                        chunk, message.topic
                    )
                    continue
                where = f"{message.topic}:{partition}"
                self.first_offsets.setdefault(where, message.offset)
                self.last_offsets[where] = message.offset
                if verdict.error is not None:
                    rejected.append(
                        dead_letter_message(
                            raw, message.topic, partition, message.offset, verdict.error
                        )
                    )
                if len(chunk) >= CHUNK_KEYS:
                    if not await self._close(chunk, rejected, generation, seen):
                        break
                    chunk, rejected = Chunk(self.table.data, partition), []
                    seen = [] if seen is not None else None
            else:
                await self._close(chunk, rejected, generation, seen)
        if seeks:
            await self._seek_back(seeks, generation)

    async def _seek_back(self, seeks: dict[TP, int], generation: int) -> None:
        """Move the consumer back to the first unapplied offsets after a gap (`Engine.handle`)."""
        current = _faust.generation(self.app)
        self.trace("seek-back", gen=generation, cur=current, offsets=by_tp(seeks, 10))
        if current != generation:
            return  # a rebalance: the assignment moves the position to the journal anyway
        log.warning(
            "streams: records were delivered past unapplied offsets %s; reading again from there",
            by_tp(seeks),
        )
        try:
            await _faust.seek(self.app, seeks)
        # The partitions moved meanwhile (aiokafka's IllegalStateError, a timeout, a stopped
        # consumer, ...): their new owner reads the journal, and the gap stays refused.
        except Exception as exc:  # noqa: BLE001 - seek fails in many ways during a rebalance
            log.warning("streams: could not move the consumer back (%r)", exc)

    async def _close(
        self,
        chunk: Chunk,
        rejected: list[tuple[bytes, bytes]],
        generation: int,
        seen: Seen | None = None,
    ) -> bool:
        """Send the chunk's dead letters and wait for Kafka, then journal and write the chunk."""
        if rejected:
            await self.send_dead_letters(rejected)
            self.counts["dead_lettered"] += len(rejected)
            if _faust.generation(self.app) != generation:
                # The partition may have moved while we waited: its new owner applies
                # these events again (and sends the same dead letters, same ids).
                self.counts["abandoned"] += 1
                return False
        pending: list[tuple[str, Any]] = []
        self.engine.finish(chunk, self._writer(pending))
        trace = self.trace
        if trace.enabled:
            trace(
                "chunk-write",
                p=chunk.partition,
                gen=generation,
                cur=_faust.generation(self.app),
                owned=sorted(self.owned()),
                a=chunk.applied,
                n=len(pending),
                ev=seen,
            )
        await self._send(chunk.partition, pending)
        trace("chunk-sent", p=chunk.partition, gen=generation, cur=_faust.generation(self.app))
        return True

    async def _send_to_topic(self, records: list[tuple[bytes, bytes]]) -> None:
        """Produce dead letters and wait until Kafka has them all."""
        pending = [await self.dead.send(key=key, value=value) for key, value in records]
        for fut in pending:
            await fut

    # -- reading ---------------------------------------------------------
    def own(self, cutoff_day: int) -> dict[str, Any]:
        """This worker's part of the figures: own (not rolled up) figures of its partitions,
        and what they reflect, read in one synchronous step so the three agree.

        `offsets`: {topic: {partition: next offset}} for every source topic and owned
        partition, from the journal whose chunk `with_journal` completes for the figures
        (the rule `rewind_to_journal` resumes from); `events`: the valid records those
        offsets cover (None if a journal predates the count, see `streams.engine`).
        """
        partitions = self.owned()
        data = self.table.data
        figures = own_figures(with_journal(data, partitions), partitions, cutoff_day)
        offsets: dict[str, dict[str, int]] = {topic: {} for topic in sorted(self.sources)}
        events: int | None = 0
        for p in sorted(partitions):
            for topic, offset in next_offsets(data, p, self.sources).items():
                offsets[topic][str(p)] = offset
            count = applied_events(data, p)
            events = None if events is None or count is None else events + count
        return {
            "worker_id": self.worker_id,
            "ready": self.ready(),
            "partitions": sorted(partitions),
            "of": self.partitions,
            "cutoff_day": cutoff_day,
            "figures": [[u, c, v] for (u, c), v in sorted(figures.items()) if v],
            "offsets": offsets,
            "events": events,
        }

    def status(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "pid": os.getpid(),
            "ready": self.ready(),
            "partitions": sorted(self.owned()),
            "counts": dict(self.counts),
            "first_offsets": self.first_offsets,
            "last_offsets": self.last_offsets,
        }

    # -- rebalances ------------------------------------------------------
    def traced_rebalance(self, what: str, tps: Any = None) -> None:
        """A trace line for a rebalance step (`revoked`, `assigned`, `shutdown`)."""
        if self.trace.enabled:
            named = {} if tps is None else {"tps": tp_names(tps, 9)}
            self.trace(what, gen=_faust.generation(self.app), **named)

    async def rewind_to_journal(self, active_tps: set[TP]) -> None:
        """Set the group's offsets of the recovered partitions to the journal's position.

        Every source topic, also one the journal has no offset for yet (0: Faust may
        have committed past records of it that no agent ever saw).
        """
        self.engine.forget()
        offsets: dict[TP, int] = {}
        for p in {tp.partition for tp in active_tps}:
            for topic, offset in next_offsets(self.table.data, p, self.sources).items():
                offsets[TP(topic, p)] = offset
        self.trace(
            "rewind",
            gen=_faust.generation(self.app),
            tps=tp_names(active_tps, 9),
            offsets=by_tp(offsets, 9),
        )
        if not offsets:
            return
        try:
            await _faust.commit_offsets(self.app, offsets)
            # Also move the position now, while the source partitions are still paused:
            # Faust resumes them before its own seek to the committed offsets has
            # finished, and records fetched from the old position in between (Faust's
            # committed offset, which may be past records it skipped unprocessed)
            # would otherwise be applied first.
            await _faust.seek(self.app, offsets)
            self.counts["rewinds"] += 1
        # A new rebalance surfaces as any of aiokafka's errors: the next assignment tries
        # again. Raising would not help: Faust swallows it (`_faust.after_recovery`).
        except Exception as exc:  # noqa: BLE001 - commit and seek fail in many ways then
            log.warning(
                "streams: could not set offsets from the journal (%r); records "
                "beyond it are refused until the position is back (Engine.handle)",
                exc,
            )
