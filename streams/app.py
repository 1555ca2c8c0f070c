"""The Faust app: one agent over the four source topics, one changelogged table, the live form.

See `streams.engine` for the state layout and why the effect is exactly once
while one worker at a time writes a partition; `streams.ownership` for why that
holds even when a worker that lost a partition still writes (a zombie: paused past
its session timeout, then resumed); what this module adds is the Faust side:

- each fetch's records go to `Runtime.process_records` at once, in the consumer's
  fetch loop, without Faust's messages, stream or acks (`_faust.deliver_in_batches`:
  they cost Faust nearly half the worker's time); the agent over the source topics
  is what makes Faust subscribe to them (and what the tests drive, through
  `test_context()`, with the same runtime). A batch's table writes are queued in a
  changelog transaction of its partition (whole record batches, `streams.changelog`)
  in the same synchronous step that changes the table, committed in the background;
- Faust acks none of those records, so it commits none of their offsets:
  `Runtime.commit_applied` commits the journal's offsets every `OFFSETS_EVERY` s, after
  the changelog transactions sent so far are committed (for Kafka's lag figures: where
  a worker resumes comes from the journal, below). Should Faust commit an offset it
  acked, it flushes the producer first, but its buffer flush gives up after 0.1 s
  without progress (faust/transport/producer.py, `flush_atmost`) and does not cover
  our transactions; that flush is made to commit the changelog records sent so far and
  wait for that first (`_faust.make_flush_a_barrier`, `Ownership.flush`);
- the changelog is fenced: each partition has one transactional id, whoever owns
  it. At every assignment, once Faust's recovery is done, while the source
  partitions are still paused (`_faust.after_recovery`), `Runtime.take_over` keeps
  the partitions this worker still owns (their state and writer, once a journal
  write proves the writer still holds the fence) and starts a writer for every
  other assigned partition -- the broker then aborts the previous owner's open
  transaction and refuses all it sends later -- and rebuilds those from the
  committed records up to the end found after that fence, which nobody else can
  move; in the background when some partitions are kept, which go on meanwhile (a
  partition is applied and answered for once rebuilt). Faust's own recovery is kept
  off the table (`_faust.recover_outside_faust`): it would read aborted records, and
  never end on a log whose last offset is a commit marker. A zombie's transaction
  fails with ProducerFenced: it abandons the chunk and stops applying that partition
  (keeping its others), so its writes reach neither the changelog a recovery reads
  nor, past that point, its figures; at its next assignment the confirming write of
  a partition it believes it kept is refused too, and the partition is rebuilt;
- then the group's offsets are set to the journal's applied offsets + 1 and the
  consumer is moved there (`Runtime.rewind_to_journal`) while the source
  partitions are still paused: Faust resumes them *before* its own seek to the
  committed offsets has landed, and its committed offset can be past records it
  acked without the agent seeing them (skipped while a rebalance suspended the
  flow). So the position always comes from the state itself: nothing applied is
  read again, nothing unapplied is skipped, whatever Faust managed to commit
  before a crash;
- should a record still arrive past an unapplied offset, the engine refuses
  it (`Engine.handle`, a gap) and the consumer is moved back (`Runtime._seek_back`);
- the consumer's fetch waits at most
  `FETCH_MAX_WAIT_MS` on the broker, not Faust's 1.5 s, which a fetch of only the idle
  partitions used to spend while the busy ones waited (`_faust.shorten_fetch_wait`);
- dead letters are acknowledged by Kafka before the chunk that records the
  rejected offset as applied is written, so a rejected record cannot be lost (a
  zombie may send some again: same ids, listed once).

Events buffered before a rebalance (an old consumer generation) are not
applied: whoever owns the partition now reads them again from its journal. That
check is a shortcut, not the fence: a paused worker resumes with its old
generation and its old assignment, and only the broker can tell it otherwise.

The agent's work is `streams.runtime.Runtime`; every Faust or aiokafka internal used
here or there goes through `streams._faust`, which refuses unpinned versions.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import TP

from contracts.calendar import Campaign, load_campaign
from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import SOURCES, dead_letter_topic, source_topic
from streams import _faust, web
from streams.group import SESSION_TIMEOUT_S, TABLE, app_id, group_dir
from streams.live import live_workers
from streams.ownership import CHANGELOG_BATCH, Ownership
from streams.runtime import CHUNK_KEYS, Runtime

__all__ = ["create_app", "create_runtime", "app_id", "Runtime", "BATCH", "CHUNK_KEYS", "TABLE"]

#: Events per batch the agent takes, and how long it waits to fill one.
BATCH = 2000
BATCH_WITHIN = 0.05
#: How long the broker may hold a fetch that finds no records (Faust's driver says 1500 ms):
#: a fetch for the idle partitions must not keep the busy ones waiting
#: (`_faust.shorten_fetch_wait`); an idle worker then asks ten times a second.
FETCH_MAX_WAIT_MS = 100
#: Seconds between offset commits (Faust's timer, and `Runtime.commit_applied`'s).
OFFSETS_EVERY = 0.5


def _connect(signal: Any, receiver: Callable[..., Awaitable[None]]) -> None:
    """`signal.connect(receiver)`: mode calls it as receiver(sender, *args, signal=..., **kw).

    (mode's annotation of receivers, built from mypy_extensions' VarArg and NamedArg, is
    met by no `def` under mypy 2, hence `Any`.)
    """
    signal.connect(receiver)


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

    `bootstrap` defaults to `infra.admin.bootstrap_servers(settings)`. Raises
    `streams.errors.UnsupportedVersion` unless faust-streaming and aiokafka are the
    pinned versions (`streams._faust.check_versions`).
    """
    runtime = create_runtime(
        settings,
        worker_id=worker_id,
        web_port=web_port,
        bootstrap=bootstrap,
        registry=registry,
        campaign=campaign,
        on_fatal=on_fatal,
        **conf,
    )
    return runtime.app


def create_runtime(
    settings: Settings,
    *,
    worker_id: str,
    web_port: int | None,
    bootstrap: str | None = None,
    registry: Registry | None = None,
    campaign: Campaign | None = None,
    on_fatal: Callable[[BaseException], None] = _exit_now,
    **conf: Any,
) -> Runtime:
    """`create_app`'s app with what its agent shares (`Runtime.app`, `.agent`, `.table`)."""
    _faust.check_versions()
    if bootstrap is None:
        from infra.admin import bootstrap_servers  # kafka-python: only when not given

        bootstrap = bootstrap_servers(settings)
    registry = registry or Registry.load()
    campaign = campaign or load_campaign()
    datadir = group_dir(settings) / worker_id
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
        # Offsets are committed by the timer only, in the background: a commit waits for
        # every changelog transaction (the flush barrier below), and Faust's count-based
        # commit (`broker_commit_every`) would wait for it inside the fetch loop, holding
        # up every partition's records meanwhile. Where a worker resumes comes from the
        # journal anyway (`Runtime.rewind_to_journal`), not from these offsets.
        broker_commit_interval=OFFSETS_EVERY,
        broker_commit_every=sys.maxsize,
        table_standby_replicas=0,
        # A killed worker must leave the group quickly so its partitions move on.
        broker_session_timeout=SESSION_TIMEOUT_S,
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
    ownership = Ownership(settings, bootstrap, worker_id, on_fatal)
    runtime = Runtime(
        app, settings, table, dead, registry, campaign, worker_id, on_fatal, ownership
    )
    _faust.make_flush_a_barrier(app, lambda: runtime.ownership.flush())
    _faust.shorten_fetch_wait(app, FETCH_MAX_WAIT_MS)
    _faust.deliver_in_batches(app, runtime.sources, runtime.process_records)
    _faust.recover_outside_faust(table)

    async def take_over(active_tps: set[TP], standby_tps: set[TP]) -> None:
        await runtime.take_over()  # Faust recovered none of the table: see recover_outside_faust

    _faust.after_recovery(table, take_over)

    async def revoked(sender: Any, revoked: set[TP], **_: Any) -> None:
        runtime.traced_rebalance("revoked", revoked)

    async def assigned(sender: Any, assigned: set[TP], **_: Any) -> None:
        runtime.traced_rebalance("assigned", assigned)

    async def shutdown(sender: Any, **_: Any) -> None:
        runtime.traced_rebalance("shutdown")
        await runtime.close()  # the agent is done (Faust waited for its streams to drain)

    _connect(app.on_partitions_revoked, revoked)
    _connect(app.on_partitions_assigned, assigned)
    _connect(app.on_before_shutdown, shutdown)

    @app.agent(source, name="tallies")
    async def tallies(stream: Any) -> Any:
        async for events in stream.take_events(BATCH, within=BATCH_WITHIN):
            await runtime.process(list(events))
            yield len(events)

    runtime.agent = tallies

    every: Any = app.timer(OFFSETS_EVERY)  # faust's decorator is untyped
    every(runtime.commit_applied)

    if web_port is not None:
        web.install(app, runtime, campaign, peers=lambda: live_workers(settings))
    return runtime
