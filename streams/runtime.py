"""What the agent and the web pages share: the engine, the table, the counters.

`Runtime.process_records` applies each fetch's records (`_faust.deliver_in_batches`;
the agent's batches in tests, through `process`), per partition, in offset order, in
journaled chunks (see `streams.engine`), handing each chunk's changelog records to
the partition's fenced writer (`streams.changelog.PartitionWriter`, which commits them
in transactions) and applying nothing of a partition whose writer is fenced or
retired; `Runtime.take_over` runs after every assignment: it keeps the partitions
the worker still owns and takes the others over -- fences their earlier writers and
rebuilds them from their committed records (`streams.ownership`), in the background
while kept partitions go on -- then moves the group's offsets to the journal.
`Runtime.own` answers a worker's part of the live form. Why this gives an exactly-once
effect under Faust, also with a worker that was paused while its partitions moved on,
is the module docstring of `streams.app`; every Faust internal it needs goes through
`streams._faust`.

Size: the batch loop, the fencing checks around each change to the table and the
rebalance steps (take-over, rewind, seek-back) all work on the same state (the table,
the engine, the writers, the counters, the trace); apart, each would take all of it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import faust
from faust.types import TP

from contracts.calendar import Campaign
from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import SOURCES, source_topic
from streams import _faust
from streams.changelog import Fenced, encode
from streams.deadletter import dead_letter_message
from streams.engine import (
    Chunk,
    Engine,
    applied_events,
    journal_key,
    next_offsets,
    with_journal,
)
from streams.ownership import Owners, Writer, drop_partitions
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
        ownership: Owners,
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
        #: Who may write which changelog partition; tests swap in one without Kafka.
        self.ownership = ownership
        self._taking_over = asyncio.Lock()
        #: Partitions being taken over in the background (`take_over`), and that task.
        self.recovering: frozenset[int] = frozenset()
        self.recovery: asyncio.Future[None] | None = None
        #: Where dead letters go; tests swap in a list. Must return only once they are durable.
        self.send_dead_letters: Callable[[list[tuple[bytes, bytes]]], Awaitable[None]] = (
            self._send_to_topic
        )
        #: Diagnostics (`streams.trace`): one JSON line per chunk and rebalance step.
        self.trace = Tracer(worker_id)
        #: The group's offsets `commit_applied` committed last.
        self._committed: dict[TP, int] = {}

    # -- ownership -------------------------------------------------------
    def assigned(self) -> frozenset[int]:
        """Source partitions the group assigned to this worker (tables are co-partitioned)."""
        actives = _faust.assigned_partitions(self.app)
        return frozenset(tp.partition for tp in actives if tp.topic in self.sources)

    def owned(self) -> frozenset[int]:
        """The assigned partitions this worker owns and has rebuilt: a usable writer of the
        current generation (not fenced by a newer owner, not still being taken over)."""
        generation = _faust.generation(self.app)
        return frozenset(
            p
            for p in self.assigned()
            if (w := self.ownership.writer(p)) is not None
            and w.usable()
            and w.generation == generation
        )

    def ready(self) -> bool:
        return _faust.recovered(self.app) and not _faust.rebalancing(self.app)

    # -- writing ---------------------------------------------------------
    def _writer(self, pending: list[tuple[str, Any]]) -> Callable[[str, Any], None]:
        data = _faust.table_state(self.table)

        def write(key: str, value: Any) -> None:
            # Not `table[key] = value`: that sends one changelog record at a time, to the
            # partition of the current event (in a batch, the last one buffered).
            data[key] = value
            pending.append((key, value))

        return write

    async def _send(self, writer: Writer, pending: list[tuple[str, Any]]) -> None:
        """Send the changelog records of `pending` writes, in order, and forget them."""
        if pending:
            await writer.send(encode(pending))
            self.counts["changelog_records"] += len(pending)
            pending.clear()

    async def process(self, events: list[Any]) -> None:
        """Apply a batch of the agent's events (tests drive the agent: `test_context()`),
        each run of messages fetched in one generation as one batch of records."""
        messages = [event.message for event in events]
        for fetched, run in itertools.groupby(messages, key=_faust.message_generation):
            await self.process_records(list(run), fetched)

    async def process_records(self, records: list[Any], fetched: int | None) -> None:
        """Apply a batch of records: per partition, in offset order, in journaled chunks.

        `records` have `topic`, `partition`, `offset`, `key` and `value` (aiokafka's
        `ConsumerRecord`s, from `_faust.deliver_in_batches`, or Faust's messages);
        `fetched` is the generation they were fetched in.
        """
        try:
            await self._process(records, fetched)
        except Exception as exc:  # a bug: stop hard rather than ack what was not applied
            log.exception("streams: unexpected error in a batch; stopping the worker")
            self.on_fatal(exc)
            raise

    async def _process(self, records: list[Any], fetched: int | None) -> None:
        app, trace = self.app, self.trace
        generation = _faust.generation(app)
        if fetched != generation:
            # fetched before a rebalance: whoever owns them now reads them from its journal
            self.counts["stale"] += len(records)
            for message in records:
                trace(
                    "stale",
                    p=message.partition,
                    topic=message.topic[-10:],
                    offset=message.offset,
                    of=fetched,
                    gen=generation,
                )
            return
        groups: dict[int, list[Any]] = {}
        for message in records:
            groups.setdefault(message.partition, []).append(message)
        seeks: dict[TP, int] = {}
        for partition, group in groups.items():
            writer = self.ownership.writer(partition)
            if writer is None or writer.generation != generation or not writer.usable():
                # Not ours (yet) in this generation, or fenced: its owner applies these.
                self.counts["unowned"] += len(group)
                trace(
                    "unowned",
                    p=partition,
                    gen=generation,
                    writer=None if writer is None else [writer.generation, writer.state],
                    n=len(group),
                )
                continue
            try:
                await self._apply(writer, group, generation, seeks)
            except Fenced as exc:
                self.counts["fenced"] += 1  # the chunk is abandoned; the new owner applies it
                trace("fenced", p=partition, gen=generation, error=repr(exc.__cause__ or exc))
        if seeks:
            await self._seek_back(seeks, generation)

    async def _apply(
        self, writer: Writer, group: list[Any], generation: int, seeks: dict[TP, int]
    ) -> None:
        """One partition's events of a batch, in chunks; raises `Fenced` (and stops) once
        the writer may no longer write. Checked right before every change to the table,
        with no await in between: a retired or fenced writer changes nothing more."""
        app, trace, partition = self.app, self.trace, writer.partition
        pending: list[tuple[str, Any]] = []
        if not writer.usable():
            raise Fenced(f"changelog partition {partition}: writer {writer.state}")
        state = _faust.table_state(self.table)
        if self.engine.redo(state, partition, self._writer(pending)):
            self.counts["redone"] += 1
            trace(
                "redo",
                p=partition,
                gen=generation,
                a=(state.get(journal_key(partition)) or {}).get("a"),
            )
            await self._send(writer, pending)
        chunk = Chunk(state, partition)
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
        for message in group:
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
                seeks[TP(message.topic, partition)] = self.engine.next_offset(chunk, message.topic)
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
                if not await self._close(writer, chunk, rejected, generation, seen):
                    return
                chunk, rejected = Chunk(state, partition), []
                seen = [] if seen is not None else None
        await self._close(writer, chunk, rejected, generation, seen)

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
        writer: Writer,
        chunk: Chunk,
        rejected: list[tuple[bytes, bytes]],
        generation: int,
        seen: Seen | None = None,
    ) -> bool:
        """Send the chunk's dead letters and wait for Kafka, then journal and write the chunk
        (False: abandoned, the partition may have moved). Raises `Fenced`."""
        if rejected:
            await self.send_dead_letters(rejected)
            self.counts["dead_lettered"] += len(rejected)
            if _faust.generation(self.app) != generation:
                # The partition may have moved while we waited: its new owner applies
                # these events again (and sends the same dead letters, same ids).
                self.counts["abandoned"] += 1
                return False
        if not writer.usable():  # no await from here to the table's change
            raise Fenced(f"changelog partition {chunk.partition}: writer {writer.state}")
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
        await self._send(writer, pending)
        trace("chunk-sent", p=chunk.partition, gen=generation, cur=_faust.generation(self.app))
        # A fetch's batch runs without a pause otherwise: let the writers' pumps send what
        # is queued meanwhile (`send` waits only once MAX_WAITING records are).
        await asyncio.sleep(0)
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
            "recovering": sorted(self.recovering),
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
            "recovering": sorted(self.recovering),
            "counts": dict(self.counts),
            "generation": _faust.generation(self.app),
            "fenced": sorted(self.ownership.fenced()),
            "first_offsets": self.first_offsets,
            "last_offsets": self.last_offsets,
        }

    # -- rebalances ------------------------------------------------------
    def traced_rebalance(self, what: str, tps: Any = None) -> None:
        """A trace line for a rebalance step (`revoked`, `assigned`, `shutdown`)."""
        if self.trace.enabled:
            named = {} if tps is None else {"tps": tp_names(tps, 9)}
            self.trace(what, gen=_faust.generation(self.app), **named)

    async def take_over(self) -> None:
        """After every assignment, before the source partitions resume: keep the partitions
        this worker still owns, take the others over (fence their earlier writers, rebuild
        them from their committed records), and `rewind_to_journal` (`streams.ownership`;
        `create_app` hooks it after Faust's recovery).

        While some partitions are kept, the others are taken over in the background
        (`recovery`): the kept ones go on meanwhile, and each taken-over partition is
        applied and answered for once it is rebuilt. One take-over at a time: Faust does
        not cancel a hook when the next rebalance starts, so a late one gives way to the
        next generation's (`current` turns False).
        """
        async with self._taking_over:
            generation = _faust.generation(self.app)
            partitions = self.assigned()
            started = time.monotonic()
            self.engine.forget()
            try:
                kept, released = await self.ownership.release(partitions, generation)
                drop_partitions(self.table.data, released)
                kept = await self._confirm(kept)
            except Exception as exc:
                log.exception("streams: could not keep partitions %s", sorted(partitions))
                self.on_fatal(exc)
                return
            self.trace(
                "keep",
                gen=generation,
                kept=sorted(kept),
                released=sorted(released),
                s=round(time.monotonic() - started, 3),
            )
            if kept and self._current(generation):
                await self.rewind_to_journal(kept)
            rest = partitions - kept
            if not rest:
                return
            self.recovering = rest
            if not kept:  # nothing to go on with meanwhile
                await self._take_over(rest, generation)
                return
        self.recovery = asyncio.ensure_future(self._recover(rest, generation))

    async def _recover(self, partitions: frozenset[int], generation: int) -> None:
        async with self._taking_over:
            await self._take_over(partitions, generation)

    async def _take_over(self, partitions: frozenset[int], generation: int) -> None:
        """Take `partitions` over (the take-over lock held); they are owned once rebuilt."""
        started = time.monotonic()
        try:
            done = self._current(generation) and await self.ownership.take_over(
                partitions, generation, self.table.data, lambda: self._current(generation)
            )
        # The partitions cannot be written safely without their fence: stop, like a
        # kill -9, and let the group move them (Faust would swallow a raise here).
        except Exception as exc:
            log.exception("streams: could not take partitions %s over", sorted(partitions))
            self.on_fatal(exc)
            return
        finally:
            if self.recovering == partitions:  # not a newer generation's, set since
                self.recovering = frozenset()
        self.trace(
            "take-over",
            gen=generation,
            partitions=sorted(partitions),
            done=done,
            s=round(time.monotonic() - started, 3),
        )
        if done:
            self.counts["take_overs"] += 1
            await self.rewind_to_journal(partitions)

    async def _confirm(self, kept: frozenset[int]) -> frozenset[int]:
        """The kept partitions whose writer still holds the fence: each journals its state
        again (its applied offsets, no keys), which the broker refuses if anyone fenced the
        writer since (a worker paused in an older generation's take-over); those are
        taken over instead."""

        async def confirm(partition: int) -> bool:
            writer = self.ownership.writer(partition)
            if writer is None or not writer.usable():
                return False
            journal = self.table.data.get(journal_key(partition)) or {"a": {}, "n": 0}
            again = {**journal, "w": {}}
            pending: list[tuple[str, Any]] = []
            self._writer(pending)(journal_key(partition), again)
            try:
                await self._send(writer, pending)
            except Fenced:
                return False
            return await writer.settled()

        confirmed = await asyncio.gather(*(confirm(p) for p in sorted(kept)))
        return frozenset(p for p, ok in zip(sorted(kept), confirmed, strict=True) if ok)

    def _current(self, generation: int) -> bool:
        return _faust.generation(self.app) == generation

    async def close(self) -> None:
        """The worker stops: end a take-over in the background, let the commits in flight
        end, stop the writers."""
        recovery = self.recovery
        if recovery is not None and not recovery.done():
            recovery.cancel()
            await asyncio.wait([recovery])
        await self.ownership.close()

    async def commit_applied(self) -> None:
        """Commit the group's offsets of the owned partitions to what their changelog holds.

        Informational (the lag that Kafka's tools show): the records reach the runtime
        without Faust's acks (`_faust.deliver_in_batches`), so Faust commits none of their
        offsets, and where a worker resumes comes from its journal anyway. The offsets are
        read from the journal first, then every changelog transaction sent so far is
        committed, so an offset committed here is one the changelog holds. Never raises.
        """
        generation = _faust.generation(self.app)
        if not self.ready():
            return
        offsets: dict[TP, int] = {}
        for p in self.owned():
            for topic, offset in next_offsets(self.table.data, p, self.sources).items():
                if offset and self._committed.get(TP(topic, p)) != offset:
                    offsets[TP(topic, p)] = offset
        if not offsets:
            return
        try:
            for waiting in list(self.ownership.flush()):
                await waiting
            if self._current(generation) and await _faust.commit_offsets(self.app, offsets):
                self._committed.update(offsets)
        # A fenced or failed writer, a rebalance: the next round (or owner) commits.
        except Exception as exc:  # noqa: BLE001 - informational; the journal decides
            log.info("streams: could not commit the applied offsets (%r)", exc)

    async def rewind_to_journal(self, partitions: Iterable[int]) -> None:
        """Set the group's offsets of `partitions` to the journal's position.

        Every source topic, also one the journal has no offset for yet (0: Faust may
        have committed past records of it that no agent ever saw).
        """
        self.engine.forget()
        offsets: dict[TP, int] = {}
        for p in set(partitions):
            for topic, offset in next_offsets(self.table.data, p, self.sources).items():
                offsets[TP(topic, p)] = offset
        self.trace(
            "rewind",
            gen=_faust.generation(self.app),
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
