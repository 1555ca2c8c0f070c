"""`arrears bench recovery`: what a worker's death costs the one that survives.

Not a test. In fresh bench topics (deleted afterwards), with real
`arrears worker` subprocesses:

1. two workers share the partitions; N events are produced and applied, so
   the changelog holds their state;
2. a steady trickle of further events (--rate events/s) starts, and one
   worker is killed (SIGKILL): after the session timeout (6 s) the group
   gives its partitions to the survivor, which must take them over (fence,
   read their changelog back);
3. the survivor's /status/ is read every 0.1 s until it has applied the log
   to its end.

Figures: `stalled_s`, the longest time after the kill during which the
survivor handled nothing (or did not answer) although events were waiting
(the stop-the-world pause of a rebalance); `owned_all_s`, from the kill
until it answers for every partition; `caught_up_s`, until it has handled
every partition to the log's end once the trickle has ended. Written as JSON
and printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import TopicPartition
from rich.console import Console

from benchmarks.common import add_output, progress, publish
from benchmarks.streams import (
    _delete_topics,
    _produce_fast,
    _producer,
    _ready,
    _records,
    _wait,
    _Worker,
    handled,
)
from infra.admin import admin_client, bootstrap_servers, end_offsets, ensure_topics
from infra.errors import InfraError
from infra.settings import Settings
from infra.topics import SOURCES, run_prefix, source_topic
from pipeline.errors import CliError
from streams.group import SESSION_TIMEOUT_S

__all__ = ["register_recovery"]


def register_recovery(actions: Any, count: Callable[[str], int]) -> None:
    p = actions.add_parser(
        "recovery",
        help="a worker killed: how long the survivor stalls and takes its partitions over",
        description=__doc__,
    )
    p.add_argument(
        "--events",
        type=count,
        default=700_000,
        metavar="N",
        help="events applied before the kill (default 700,000)",
    )
    p.add_argument(
        "--rate",
        type=count,
        default=200,
        metavar="R",
        help="events/s produced from the kill until the end (default 200)",
    )
    p.add_argument(
        "--seconds",
        type=count,
        default=90,
        metavar="S",
        help="how long those events come, from 2 s before the kill (default 90)",
    )
    p.add_argument(
        "--unit",
        default="320000",
        metavar="CODE",
        help="spread the events over the units below CODE (default 320000: Jiangsu's "
        "20 units, which spread over the partitions evenly)",
    )
    add_output(p, "recovery.json")
    p.set_defaults(func=run)


def _log_ends(settings: Settings) -> dict[str, int]:
    """`topic:partition` -> end offset of every source partition that has records."""
    admin = admin_client(settings.bootstrap_servers)
    try:
        tps = [
            TopicPartition(source_topic(settings, s), p)
            for s in SOURCES
            for p in range(settings.partitions)
        ]
        ends = end_offsets(admin, tps)
    finally:
        admin.close()
    return {f"{tp.topic}:{tp.partition}": end for tp, end in ends.items() if end > 0}


def _measure(
    settings: Settings,
    records: list[tuple[bytes, bytes, bytes]],
    events: int,
    rate: int,
    seconds: int,
    logs: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    ensure_topics(settings.bootstrap_servers, settings)
    workers = [_Worker(settings, f"rec-{i}", logs / f"recovery-{i}.log") for i in range(2)]
    survivor, victim = workers
    try:
        _wait(lambda: _ready(workers, settings.partitions), 120, "the workers to be ready")
        say(f"2 workers ready; producing {events:,} events")
        _produce_fast(
            settings.bootstrap_servers, settings.topic_prefix, records[:events], settings.partitions
        )
        _wait(
            lambda: sum(handled(w.status()) for w in workers) >= events,
            3600,
            "the workers to apply the events",
        )
        trickle = records[events : events + rate * seconds]
        say(f"applied; {rate}/s more for {seconds}s, and worker rec-1 killed")

        def produce() -> None:
            producer = _producer(settings.bootstrap_servers, linger_ms=0)
            started = time.monotonic()
            for i, (source, unit, raw) in enumerate(trickle):
                ahead = i / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
                producer.send(source_topic(settings, source.decode()), key=unit, value=raw)
            producer.flush()
            producer.close()

        load_before = os.getloadavg()[0]
        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        time.sleep(2)  # the trickle reaches both workers
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        killed = time.monotonic()
        last_change, seen = killed, handled(survivor.status())
        stalled = 0.0
        owned_all = caught_up = None
        ends: dict[str, int] | None = None
        deadline = killed + 1800
        while time.monotonic() < deadline:
            answer = survivor.status()
            now = time.monotonic()
            status = answer or {}
            count = seen if answer is None else handled(status)  # no answer: a stall too
            if count != seen:
                last_change, seen = now, count
            else:  # events are still to handle (the loop ends once caught up)
                stalled = max(stalled, now - last_change)
            if owned_all is None and len(status.get("partitions", [])) == settings.partitions:
                owned_all = now - killed
            if ends is None and not thread.is_alive():
                ends = _log_ends(settings)
            last = status.get("last_offsets", {})
            if ends is not None and all(last.get(tp, -1) >= end - 1 for tp, end in ends.items()):
                caught_up = now - killed
                break
            time.sleep(0.1)
        thread.join()
        return {
            "events": events,
            "rate": rate,
            "seconds": seconds,
            "partitions": settings.partitions,
            "session_timeout_s": SESSION_TIMEOUT_S,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "stalled_s": round(stalled, 1),
            "owned_all_s": None if owned_all is None else round(owned_all, 1),
            "caught_up_s": None if caught_up is None else round(caught_up, 1),
            "survivor_status_counts": (survivor.status() or {}).get("counts", {}),
        }
    finally:
        for w in workers:
            w.stop()
        _delete_topics(settings)


def run(args: argparse.Namespace) -> int:
    from benchmarks.ingest import write_events

    say = progress(args)
    try:
        env = Settings.from_env()
        base = env.with_overrides(bootstrap_servers=bootstrap_servers(env))
    except InfraError as err:
        raise CliError(str(err)) from err
    with tempfile.TemporaryDirectory(prefix="arrears-bench-recovery-") as tmp:
        work = Path(tmp)
        settings = base.with_overrides(
            state_dir=work / "state", topic_prefix=run_prefix("bench", uuid.uuid4().hex[:8])
        )
        total = args.events + args.rate * args.seconds
        say(f"generating {total:,} events")
        write_events(work / "events.jsonl", total, seed=11, unit=args.unit)
        records = _records(work / "events.jsonl")
        logs = args.out.parent / "recovery-logs"
        logs.mkdir(parents=True, exist_ok=True)
        figures = _measure(settings, records, args.events, args.rate, args.seconds, logs, say)

    def show(console: Console) -> None:
        console.print(
            f"survivor stalled at most {figures['stalled_s']} s; owned every partition "
            f"after {figures['owned_all_s']} s; caught up after {figures['caught_up_s']} s "
            f"(events {figures['events']:,}, kill -9 of one of two workers)"
        )

    publish(args, figures, show)
    return 0
