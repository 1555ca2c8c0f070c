"""`arrears bench streams`: stream worker throughput (one and two workers), latency, memory.

Not a test. Every phase uses its own uuid topic prefix (so its own consumer
group and changelog), runs workers as real `arrears worker` subprocesses and
deletes its topics afterwards:

1. throughput: workers started and sharing the partitions, then N events
   produced as fast as possible; events/s from the first to the last event
   the workers report handled (their /status/ counters), and the workers' CPU
   time per event (which moves far less than events/s when other processes
   share the cores); then, the worker stopped, a bare aiokafka consumer reads
   the same partitions from the start: the floor of a worker on that client;
2. the same with two workers;
   (the events are keyed by unit, so the busiest worker's share of the events
   bounds the scaling: `balance_bound`);
3. latency at a steady rate (default 1,000 events/s): every 10th event is a
   probe; it is visible when the worker owning its partition reports its
   offset applied (the same synchronous step that writes the table the form
   reads); p50/p99 of produce-to-visible;
4. resident memory (VmRSS and peak VmHWM) of every worker.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from rich.table import Table

from benchmarks.common import add_output, proc_memory_mb, progress, publish
from infra.admin import admin_client, bootstrap_servers, ensure_topics
from infra.errors import InfraError
from infra.settings import Settings
from infra.topics import SOURCES, run_prefix, source_topic
from pipeline.errors import CliError

_UNIT = re.compile(rb'"unit": ?"(\d{6})"')
_SOURCE = re.compile(rb'"source": ?"(\w+)"')
_HANDLED = ("applied", "duplicate", "inactive", "rejected", "skipped")
#: What #18 asks of a worker: events/s, against the bare aiokafka floor, two against one
#: (with --unit 320000, which spreads the events over the partitions evenly), p99 at the
#: steady rate.
TARGETS = {
    "events_per_s_per_worker": 15_000,
    "ratio_to_floor": 0.3,
    "scaling": 1.8,
    "p99_ms": 200,
}


def register_streams(actions: Any, count: Callable[[str], int]) -> None:
    p = actions.add_parser(
        "streams",
        help="stream workers: events/s for one and two, latency p50/p99, RSS",
        description=__doc__,
    )
    p.add_argument(
        "--events",
        type=count,
        default=1_000_000,
        metavar="N",
        help="events for each throughput run (default 1,000,000)",
    )
    p.add_argument(
        "--rate",
        type=count,
        default=1000,
        metavar="R",
        help="steady rate of the latency run, events/s (default 1,000)",
    )
    p.add_argument(
        "--seconds",
        type=count,
        default=30,
        metavar="S",
        help="length of the latency run (default 30)",
    )
    p.add_argument(
        "--partitions",
        type=count,
        default=6,
        metavar="P",
        help="partitions of the bench topics (default 6)",
    )
    p.add_argument(
        "--unit",
        default="320400",
        metavar="CODE",
        help="spread the events over the units below CODE (default 320400: "
        "Changzhou's 7 districts; 320000 gives Jiangsu's 20 units, which "
        "spread over the partitions more evenly)",
    )
    add_output(p, "streams.json")
    p.set_defaults(func=run)


class _Worker:
    def __init__(self, settings: Settings, name: str, log: Path) -> None:
        from pipeline.commands.worker import free_port

        self.port = free_port()
        env = {**os.environ, **settings.to_env()}
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pipeline.cli",
                    "worker",
                    "--web-port",
                    str(self.port),
                    "--worker-id",
                    name,
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def status(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status/", timeout=2) as r:
                return dict(json.load(r))
        except OSError:
            return None

    def handled(self) -> int:
        return handled(self.status())

    def memory_mb(self) -> dict[str, float]:
        return proc_memory_mb(self.proc.pid)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the worker so far (all its threads): unlike
        events/s, it hardly moves when other processes share the cores."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def handled(status: dict[str, Any] | None) -> int:
    """Records a worker's /status/ answer says it handled (0 for no answer)."""
    counts = (status or {}).get("counts", {})
    return sum(int(counts.get(k, 0)) for k in _HANDLED)


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise CliError(f"bench: timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def _ready(workers: list[_Worker], partitions: int) -> bool:
    statuses = [w.status() for w in workers]
    if not all(s and s["ready"] for s in statuses):
        return False
    owned = sorted(p for s in statuses for p in s["partitions"])  # type: ignore[index]
    return owned == list(range(partitions)) and all(s["partitions"] for s in statuses)  # type: ignore[index]


def _records(path: Path) -> list[tuple[bytes, bytes, bytes]]:
    out = []
    with path.open("rb") as lines:
        for line in lines:
            raw = line.rstrip(b"\n")
            unit, source = _UNIT.search(raw), _SOURCE.search(raw)
            assert unit and source
            out.append((source.group(1), unit.group(1), raw))
    return out


def _producer(bootstrap: str, linger_ms: int = 5) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        batch_size=256 * 1024,
    )


def _produce_fast(
    bootstrap: str, prefix: str, records: list[tuple[bytes, bytes, bytes]], partitions: int
) -> dict[int, int]:
    """Produce `records` as whole record batches (aiokafka `send_batch`); events per partition.

    A per-record Python producer (kafka-python: ~40 us a record) would take a
    core from the workers it is feeding on a 2-core machine. Partitions are
    chosen as kafka-python's and aiokafka's default partitioner does (murmur2
    of the unit key), so the four topics stay co-partitioned like `arrears ingest`.
    """
    import asyncio

    from aiokafka import AIOKafkaProducer
    from aiokafka.partitioner import murmur2

    per_partition: dict[int, int] = {}

    async def main() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            max_batch_size=512 * 1024,
            max_request_size=8 * 1024 * 1024,
        )
        await producer.start()
        try:
            open_batches: dict[tuple[str, int], Any] = {}
            futures = []
            for source, unit, raw in records:
                topic = f"{prefix}{source.decode()}"
                partition = (murmur2(unit) & 0x7FFFFFFF) % partitions
                per_partition[partition] = per_partition.get(partition, 0) + 1
                batch = open_batches.get((topic, partition))
                if batch is None or batch.append(key=unit, value=raw, timestamp=None) is None:
                    if batch is not None:
                        futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = open_batches[(topic, partition)] = producer.create_batch()
                    batch.append(key=unit, value=raw, timestamp=None)
            for (topic, partition), batch in open_batches.items():
                futures.append(await producer.send_batch(batch, topic, partition=partition))
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(main())
    return per_partition


def _throughput(
    base: Settings,
    records: list[tuple[bytes, bytes, bytes]],
    n_workers: int,
    logs: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    settings = base.with_overrides(topic_prefix=run_prefix("bench", uuid.uuid4().hex[:8]))
    ensure_topics(settings.bootstrap_servers, settings)
    workers = [
        _Worker(settings, f"bench-{i}", logs / f"tp{n_workers}-{i}.log") for i in range(n_workers)
    ]
    try:
        _wait(lambda: _ready(workers, settings.partitions), 120, "the workers to be ready")
        say(f"{n_workers} worker(s) ready; producing {len(records):,} events")
        owned = {
            f"bench-{i}": (w.status() or {}).get("partitions", []) for i, w in enumerate(workers)
        }
        cpu_before = sum(w.cpu_seconds() for w in workers)
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        per_partition = _produce_fast(
            settings.bootstrap_servers, settings.topic_prefix, records, settings.partitions
        )
        produce_seconds = time.monotonic() - started
        first = last = None
        peak: dict[str, dict[str, float]] = {}
        deadline = time.monotonic() + 3600
        while True:
            now = time.monotonic()
            done = sum(w.handled() for w in workers)
            if done and first is None:
                first = now
            for i, w in enumerate(workers):
                peak[f"bench-{i}"] = w.memory_mb()
            if done >= len(records):
                last = now
                break
            if now > deadline:
                raise CliError("bench: the workers did not finish within an hour")
            time.sleep(0.1)
        assert first is not None
        seconds = max(last - first, 1e-6)
        cpu = sum(w.cpu_seconds() for w in workers) - cpu_before
        # Events are keyed by unit: the busiest worker's share bounds what more workers can do.
        shares = {name: sum(per_partition.get(p, 0) for p in ps) for name, ps in owned.items()}
        for w in workers:
            w.stop()  # the floor runs alone
        floor = _bare_consumer(settings, len(records)) if n_workers == 1 else None
        return {
            "workers": n_workers,
            "events": len(records),
            "seconds": round(seconds, 2),
            "events_per_s": round(len(records) / seconds),
            **({"bare_aiokafka_events_per_s": floor} if floor is not None else {}),
            "memory_mb": peak,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "cpu_seconds": round(cpu, 2),
            "cpu_us_per_event": round(cpu * 1e6 / len(records), 1),
            "produce_seconds": round(produce_seconds, 2),
            "events_per_partition": dict(sorted(per_partition.items())),
            "partitions_per_worker": owned,
            "events_per_worker": shares,
            "balance_bound": round(len(records) / max(max(shares.values()), 1), 2),
            "topic_prefix": settings.topic_prefix,
        }
    finally:
        for w in workers:
            w.stop()
        _delete_topics(settings)


def _bare_consumer(settings: Settings, total: int) -> int:
    """Events/s of a bare aiokafka consumer reading the same source partitions from the
    start (no group, no decoding): the floor of what a worker on this client can do."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def main() -> float:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        try:
            tps = [
                TopicPartition(source_topic(settings, s), p)
                for s in SOURCES
                for p in range(settings.partitions)
            ]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            seen, started = 0, time.monotonic()
            while seen < total:
                batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                for messages in batches.values():
                    seen += sum(1 for m in messages if m.value is not None)
            return time.monotonic() - started
        finally:
            await consumer.stop()

    return round(total / max(asyncio.run(main()), 1e-6))


def _latency(
    base: Settings,
    records: list[tuple[bytes, bytes, bytes]],
    rate: int,
    seconds: int,
    logs: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    settings = base.with_overrides(topic_prefix=run_prefix("bench", uuid.uuid4().hex[:8]))
    ensure_topics(settings.bootstrap_servers, settings)
    worker = _Worker(settings, "bench-lat", logs / "latency.log")
    try:
        _wait(lambda: _ready([worker], settings.partitions), 120, "the worker to be ready")
        total = min(len(records), rate * seconds)
        say(f"steady {rate:,} events/s for {total / rate:.0f}s, every 10th a probe")
        probes: dict[tuple[str, int, int], float] = {}  # (topic, partition, offset) -> sent at
        seen: dict[tuple[str, int, int], float] = {}
        lock = threading.Lock()
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                status = worker.status() or {}
                now = time.monotonic()
                last = status.get("last_offsets", {})
                with lock:
                    for key in [k for k in probes if k not in seen]:
                        if last.get(f"{key[0]}:{key[1]}", -1) >= key[2]:
                            seen[key] = now
                time.sleep(0.01)  # each poll costs the measured worker a request

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        producer = _producer(settings.bootstrap_servers, linger_ms=0)
        started = time.monotonic()
        for i, (source, unit, raw) in enumerate(records[:total]):
            ahead = i / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
            sent_at = time.monotonic()
            fut = producer.send(source_topic(settings, source.decode()), key=unit, value=raw)
            if i % 10 == 0:

                def record(meta: Any, sent_at: float = sent_at) -> None:
                    with lock:
                        probes[(meta.topic, meta.partition, meta.offset)] = sent_at

                fut.add_callback(record)
        producer.flush()
        achieved = round(total / (time.monotonic() - started))
        producer.close()
        _wait(lambda: len(seen) >= len(probes), 120, "every probe to become visible")
        stop.set()
        poller.join()
        lat = sorted((seen[k] - probes[k]) * 1000 for k in probes)
        return {
            "rate": rate,
            "events": total,
            "probes": len(lat),
            "achieved_rate": achieved,
            "p50_ms": round(statistics.median(lat), 1),
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
            "max_ms": round(lat[-1], 1),
            "memory_mb": worker.memory_mb(),
        }
    finally:
        worker.stop()
        _delete_topics(settings)


def _delete_topics(settings: Settings) -> None:
    admin = admin_client(settings.bootstrap_servers)
    try:
        names = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if names:
            admin.delete_topics(names)
    except KafkaError:  # cleanup only: leftover bench topics are harmless
        pass
    finally:
        admin.close()


def run(args: argparse.Namespace) -> int:
    from benchmarks.ingest import write_events

    say = progress(args)
    try:
        env = Settings.from_env()
        base = env.with_overrides(
            bootstrap_servers=bootstrap_servers(env), partitions=args.partitions
        )
    except InfraError as err:
        raise CliError(str(err)) from err
    with tempfile.TemporaryDirectory(prefix="arrears-bench-streams-") as tmp:
        work = Path(tmp)
        base = base.with_overrides(state_dir=work / "state")
        say(f"generating {args.events:,} events")
        write_events(work / "events.jsonl", args.events, seed=7, unit=args.unit)
        records = _records(work / "events.jsonl")
        logs = args.out.parent / "streams-logs"
        logs.mkdir(parents=True, exist_ok=True)
        one = _throughput(base, records, 1, logs, say)
        say(f"one worker: {one['events_per_s']:,} events/s, {one['cpu_us_per_event']} us CPU each")
        two = _throughput(base, records, 2, logs, say)
        say(f"two workers: {two['events_per_s']:,} events/s, {two['cpu_us_per_event']} us CPU each")
        latency = _latency(base, records, args.rate, args.seconds, logs, say)
    figures = {
        "one_worker": one,
        "two_workers": two,
        "scaling": round(two["events_per_s"] / max(one["events_per_s"], 1), 2),
        "latency": latency,
        "partitions": args.partitions,
        "unit": args.unit,
        "targets": TARGETS,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    table = Table(
        title=f"bench streams: {args.events:,} events, {args.partitions} partitions, "
        f"{os.cpu_count()} CPUs"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("one worker", f"{one['events_per_s']:,} events/s ({one['seconds']}s)")
    table.add_row(
        "bare aiokafka consumer (floor)",
        f"{one['bare_aiokafka_events_per_s']:,} events/s "
        f"(worker {one['events_per_s'] / max(one['bare_aiokafka_events_per_s'], 1):.2f}x)",
    )
    table.add_row("two workers", f"{two['events_per_s']:,} events/s ({two['seconds']}s)")
    table.add_row(
        "worker CPU per event (one / two)",
        f"{one['cpu_us_per_event']} / {two['cpu_us_per_event']} us",
    )
    table.add_row(
        "two / one",
        f"{figures['scaling']:.2f} (partition balance allows {two['balance_bound']:.2f})",
    )
    table.add_row(
        f"latency at {latency['rate']:,}/s (p50 / p99 / max)",
        f"{latency['p50_ms']} / {latency['p99_ms']} / {latency['max_ms']} ms",
    )
    for run_name, result in (("one", one), ("two", two)):
        for name, mem in result["memory_mb"].items():
            table.add_row(
                f"RSS {run_name}-worker run, {name} (now / peak)",
                f"{mem.get('VmRSS', '?')} / {mem.get('VmHWM', '?')} MB",
            )
    publish(args, figures, lambda console: console.print(table))
    return 0
