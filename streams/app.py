"""The Faust app: one agent over the four source topics, one changelogged table, the live form.

See `streams.engine` for the state layout and why the effect is exactly once.
What this module adds is the Faust side of that argument:

- the agent works in batches (`take_events`); Faust acks a batch only after
  the agent has handled it, so every acked event's table writes are already
  queued in the producer (as whole record batches, `streams.changelog`);
- Faust flushes the producer before it commits source offsets, but its buffer
  flush gives up after 0.1 s without progress (faust/transport/producer.py,
  `flush_atmost`) and does not cover our batches, so a commit could overtake
  changelog records. We make that flush wait for the last changelog batch of
  every partition first (`_flush_before_commit`);
- at every assignment, once the table is recovered, the group's offsets are
  set to the journal's applied offsets + 1 and the consumer is moved there
  (`rewind_to_journal`) while the source partitions are still paused: Faust
  resumes them *before* its own seek to the committed offsets has landed, and
  its committed offset can be past records it acked without the agent seeing
  them (skipped while a rebalance suspended the flow). So the position always
  comes from the state itself: nothing applied is read again, nothing
  unapplied is skipped, whatever Faust managed to commit before a crash;
- should a record still arrive past an unapplied offset, the engine refuses
  it (`Engine.handle`, a gap) and the consumer is moved back (`_seek_back`);
- dead letters are acknowledged by Kafka before the chunk that records the
  rejected offset as applied is written, so a rejected record cannot be lost.

Events buffered before a rebalance (an old consumer generation) are not
applied: whoever owns the partition now reads them again from its journal.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from contracts.calendar import Campaign, load_campaign
from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import SOURCES, dead_letter_topic, source_topic
from streams.changelog import BatchSender, Record, encode
from streams.deadletter import dead_letter_record
from streams.engine import Chunk, Engine, applied_events, journal_key, next_offsets, with_journal
from streams.tallies import Window, own_figures

__all__ = ["create_app", "app_id", "Runtime", "BATCH", "CHUNK_KEYS"]

log = logging.getLogger(__name__)

#: Events per batch the agent takes, and how long it waits to fill one.
BATCH = 2000
BATCH_WITHIN = 0.05
#: Keys a chunk may change before it is closed: bounds the journal record's size.
CHUNK_KEYS = 1500
TABLE = "state"
#: Bytes per changelog record batch (Kafka's message.max.bytes default is 1 MiB + 12).
CHANGELOG_BATCH = 900_000


def app_id(settings: Settings) -> str:
    """The consumer group and changelog prefix: one per topic prefix, so tests are isolated."""
    return f"{settings.topic_prefix}tallies"


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
        #: Diagnostics: ARREARS_STREAMS_TRACE=<path> writes <path>.<worker_id>, one JSON
        #: line per chunk (the offsets it applied, with their status) and rebalance step.
        trace = os.environ.get("ARREARS_STREAMS_TRACE")
        self._trace_file = (
            open(f"{trace}.{worker_id}", "a", buffering=1)  # noqa: SIM115
            if trace
            else None
        )

    def trace(self, what: str, **fields: Any) -> None:
        """One diagnostics line, if ARREARS_STREAMS_TRACE is set."""
        if self._trace_file is not None:
            self._trace_file.write(
                json.dumps(
                    {
                        "t": round(time.time(), 4),
                        "w": self.worker_id,
                        "pid": os.getpid(),
                        "what": what,
                        **fields,
                    }
                )
                + "\n"
            )

    # -- ownership -------------------------------------------------------
    def owned(self) -> frozenset[int]:
        """Source partitions this worker actively owns (tables are co-partitioned)."""
        try:
            actives = self.app.assignor.assigned_actives()
        except Exception:  # no assignment yet (not started, or a test context)
            return frozenset()
        return frozenset(tp.partition for tp in actives if tp.topic in self.sources)

    def ready(self) -> bool:
        recovery = self.app.tables.recovery
        return bool(recovery.completed.is_set()) and not self.app.rebalancing

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
        generation = self.app.consumer_generation_id
        groups: dict[int, list[Any]] = {}
        for event in events:
            message = event.message
            if message.generation_id != generation:
                self.counts["stale"] += 1  # fetched before a rebalance: read again from the journal
                self.trace(
                    "stale",
                    p=message.partition,
                    topic=message.topic[-10:],
                    offset=message.offset,
                    of=message.generation_id,
                    gen=generation,
                )
                continue
            groups.setdefault(message.partition, []).append(event)
        seeks: dict[TP, int] = {}
        for partition, group in groups.items():
            pending: list[tuple[str, Any]] = []
            if self.engine.redo(self.table.data, partition, self._writer(pending)):
                self.counts["redone"] += 1
                self.trace(
                    "redo",
                    p=partition,
                    gen=generation,
                    a=(self.table.data.get(journal_key(partition)) or {}).get("a"),
                )
                await self._send(partition, pending)
            chunk = Chunk(self.table.data, partition)
            rejected: list[tuple[bytes, str]] = []
            held: set[str] = set()  # topics with a gap: nothing more of them in this batch
            self.trace(
                "chunk-start",
                p=partition,
                gen=generation,
                cur=self.app.consumer_generation_id,
                owned=sorted(self.owned()),
                a=chunk.applied,
            )
            for event in group:
                message = event.message
                if message.topic in held:
                    self.counts["held"] += 1
                    continue
                raw = message.value if message.value is not None else b""
                verdict = self.engine.handle(chunk, message.topic, message.offset, raw)
                self.counts[verdict.status] += 1
                if self._trace_file is not None:
                    chunk.__dict__.setdefault("log", []).append(
                        (message.topic[-10:], message.offset, verdict.status[:3])
                    )
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
                    record = dead_letter_record(
                        raw, message.topic, partition, message.offset, verdict.error
                    )
                    rejected.append(
                        (
                            record["id"].encode(),
                            json.dumps(record, ensure_ascii=False).encode("utf-8"),
                        )
                    )
                if len(chunk) >= CHUNK_KEYS:
                    if not await self._close(chunk, rejected, generation):
                        break
                    chunk, rejected = Chunk(self.table.data, partition), []
            else:
                await self._close(chunk, rejected, generation)
        if seeks:
            await self._seek_back(seeks, generation)

    async def _seek_back(self, seeks: dict[TP, int], generation: int) -> None:
        """Move the consumer back to the first unapplied offsets after a gap (`Engine.handle`)."""
        self.trace(
            "seek-back",
            gen=generation,
            cur=self.app.consumer_generation_id,
            offsets={f"{tp.topic[-10:]}:{tp.partition}": o for tp, o in seeks.items()},
        )
        if self.app.consumer_generation_id != generation:
            return  # a rebalance: the assignment moves the position to the journal anyway
        log.warning(
            "streams: records were delivered past unapplied offsets %s; reading again from there",
            {f"{tp.topic}:{tp.partition}": o for tp, o in seeks.items()},
        )
        try:
            await self.app.consumer.seek_wait(seeks)
        except Exception as exc:  # the partitions moved meanwhile: the new owner reads the journal
            log.warning("streams: could not move the consumer back (%r)", exc)

    async def _close(
        self, chunk: Chunk, rejected: list[tuple[bytes, bytes]], generation: int
    ) -> bool:
        """Send the chunk's dead letters and wait for Kafka, then journal and write the chunk."""
        if rejected:
            await self.send_dead_letters(rejected)
            self.counts["dead_lettered"] += len(rejected)
            if self.app.consumer_generation_id != generation:
                # The partition may have moved while we waited: its new owner applies
                # these events again (and sends the same dead letters, same ids).
                self.counts["abandoned"] += 1
                return False
        pending: list[tuple[str, Any]] = []
        self.engine.finish(chunk, self._writer(pending))
        self.trace(
            "chunk-write",
            p=chunk.partition,
            gen=generation,
            cur=self.app.consumer_generation_id,
            owned=sorted(self.owned()),
            a=chunk.applied,
            n=len(pending),
            ev=chunk.__dict__.get("log"),
        )
        await self._send(chunk.partition, pending)
        self.trace(
            "chunk-sent", p=chunk.partition, gen=generation, cur=self.app.consumer_generation_id
        )
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

    # -- recovery --------------------------------------------------------
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
            gen=self.app.consumer_generation_id,
            tps=sorted(f"{tp.topic[-9:]}:{tp.partition}" for tp in active_tps),
            offsets={f"{tp.topic[-9:]}:{tp.partition}": o for tp, o in offsets.items()},
        )
        if not offsets:
            return
        try:
            await self.app.consumer._commit(offsets)
            # Also move the position now, while the source partitions are still paused:
            # Faust resumes them before its own seek to the committed offsets has
            # finished, and records fetched from the old position in between (Faust's
            # committed offset, which may be past records it skipped unprocessed)
            # would otherwise be applied first.
            await self.app.consumer.seek_wait(offsets)
            self.counts["rewinds"] += 1
        except Exception as exc:  # a new rebalance: the next assignment tries again
            log.warning(
                "streams: could not set offsets from the journal (%r); records "
                "beyond it are refused until the position is back (Engine.handle)",
                exc,
            )


def _flush_before_commit(app: faust.App, runtime: Runtime) -> None:
    """Make `producer.flush()`, which Faust awaits before every offset commit, a real barrier.

    The changelog records do not go through Faust's buffer at all (see
    `streams.changelog`), and its flush returns after 0.1 s without progress
    anyway, so on its own a commit could overtake changelog records of the
    events it covers. We first wait for the last changelog batch sent for each
    partition: aiokafka sends a partition's batches in order and Kafka
    acknowledges them in order, so every earlier record of that partition is
    then durable too.
    """
    buffer = app.producer.buffer
    faust_flush = buffer.flush

    async def flush() -> None:
        for fut in list(runtime.last_sent.values()):
            await fut
        await faust_flush()

    buffer.flush = flush  # type: ignore[method-assign]


def _exit_now(exc: BaseException) -> None:
    # Like kill -9, which the tests prove harmless: nothing after this is acked.
    logging.shutdown()
    os._exit(70)


def create_app(
    settings: Settings,
    *,
    worker_id: str,
    web_port: int | None,
    bootstrap: str | None = None,
    registry: Registry | None = None,
    campaign: Campaign | None = None,
    on_fatal: Callable[[BaseException], None] = _exit_now,
    **conf: Any,
) -> faust.App:
    """A Faust app for `settings`; `web_port=None` disables the web server (tests).

    `bootstrap` defaults to `infra.admin.bootstrap_servers(settings)`.
    """
    if bootstrap is None:
        from infra.admin import bootstrap_servers

        bootstrap = bootstrap_servers(settings)
    registry = registry or Registry.load()
    campaign = campaign or load_campaign()
    datadir = Path(settings.state_dir) / "streams" / app_id(settings) / worker_id
    options: dict[str, Any] = dict(
        broker=f"kafka://{bootstrap}",
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        datadir=str(datadir),
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=4 * 1024 * 1024,
        # A chunk's changelog records go out as record batches of up to this many bytes
        # (streams.changelog): a few per chunk, under the broker's 1 MiB message.max.bytes.
        producer_max_batch_size=CHANGELOG_BATCH,
        broker_commit_interval=0.5,
        broker_commit_every=2000,
        table_standby_replicas=0,
        # A killed worker must leave the group quickly so its partitions move on
        # (Faust's default session timeout is 60 s; Kafka's minimum is 6 s).
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=20.0,
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
    )
    options.update(conf)
    app = faust.App(app_id(settings), **options)
    source = app.topic(
        *(source_topic(settings, s) for s in SOURCES),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    dead = app.topic(
        dead_letter_topic(settings),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    table = app.Table(
        TABLE,
        default=None,
        partitions=settings.partitions,
        schema=faust.Schema(key_serializer="json", value_serializer="json"),
    )
    runtime = Runtime(app, settings, table, dead, registry, campaign, worker_id, on_fatal)
    app.arrears = runtime  # type: ignore[attr-defined]
    _flush_before_commit(app, runtime)

    recovered = table.on_recovery_completed

    async def on_recovery_completed(active_tps: set[TP], standby_tps: set[TP]) -> None:
        await recovered(active_tps, standby_tps)
        await runtime.rewind_to_journal(active_tps)

    table.on_recovery_completed = on_recovery_completed

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, revoked: set[TP], **_: Any) -> None:
        runtime.trace(
            "revoked",
            gen=app.consumer_generation_id,
            tps=sorted(f"{tp.topic[-9:]}:{tp.partition}" for tp in revoked),
        )

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, assigned: set[TP], **_: Any) -> None:
        runtime.trace(
            "assigned",
            gen=app.consumer_generation_id,
            tps=sorted(f"{tp.topic[-9:]}:{tp.partition}" for tp in assigned),
        )

    @app.on_before_shutdown.connect
    async def _shutdown(sender: Any, **_: Any) -> None:
        runtime.trace("shutdown", gen=app.consumer_generation_id)

    @app.agent(source, name="tallies")
    async def tallies(stream: Any) -> Any:
        async for events in stream.take_events(BATCH, within=BATCH_WITHIN):
            await runtime.process(list(events))
            yield len(events)

    runtime.agent = tallies  # type: ignore[attr-defined]

    if web_port is not None:
        from streams import web

        web.install(app, runtime)
    return app
