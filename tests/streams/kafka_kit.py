"""Helpers for the stream integration tests: worker subprocesses, producing, lag, recompute."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from contracts.cutoff import parse_cutoff
from contracts.errors import ValidationError
from contracts.events import parse_event
from contracts.ledger import Ledger
from infra.admin import admin_client, end_offsets
from infra.settings import Settings
from infra.topics import SOURCES, dead_letter_topic, source_topic
from streams.app import TABLE, app_id
from streams.deadletter import dead_letter_id
from streams.live import Incomplete, Live, cutoff_and_day, form_figures, gather
from tests.streams.workload import CAMPAIGN, FINAL, REGISTRY, Record, recompute
from warehouse.rebuild import LogRecord, Rebuild

ROOT = Path(__file__).resolve().parents[2]


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


class WorkerProcess:
    """`arrears worker` as a real subprocess, with its log in a file."""

    def __init__(
        self,
        settings: Settings,
        worker_id: str,
        port: int,
        log_dir: Path,
        trace: Path | None = None,
    ) -> None:
        self.settings = settings
        self.worker_id = worker_id
        self.port = port
        self.log_path = log_dir / f"{worker_id}.log"
        #: `arrears worker --trace` file (every start of this worker appends to it).
        self.trace_path = trace
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.paused = False

    def start(self) -> WorkerProcess:
        env = {**os.environ, **self.settings.to_env(), "PYTHONUNBUFFERED": "1"}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "worker",
                "--web-port",
                str(self.port),
                "--worker-id",
                self.worker_id,
                "--loglevel",
                os.environ.get("ARREARS_TEST_LOGLEVEL", "warning"),
                *(["--trace", str(self.trace_path)] if self.trace_path is not None else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def pause(self) -> None:
        """SIGSTOP: the whole process (its heartbeat thread too) stops until `resume`."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT after `pause` (a no-op otherwise)."""
        if self.proc is not None and self.paused and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM and wait (a graceful stop commits); SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.resume()  # a stopped process would not see the SIGTERM
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(
                f"worker {self.worker_id} did not stop on SIGTERM within "
                f"{timeout:.0f}s; log: {self.log_tail()}"
            ) from None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def status(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status/", timeout=3) as r:
                return dict(json.load(r))
        except OSError:
            return None

    def wait_ready(self, timeout: float = 60.0, partitions: bool = True) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            if not self.alive():
                raise AssertionError(f"worker {self.worker_id} exited; log: {self.log_tail()}")
            s = self.status()
            return s if s and s["ready"] and (s["partitions"] or not partitions) else None

        return wait_until(ready, timeout, f"worker {self.worker_id} ready")  # type: ignore[no-any-return]

    def trace(self) -> list[dict[str, Any]]:
        """The lines of its trace so far (empty without one)."""
        if self.trace_path is None or not self.trace_path.exists():
            return []
        text = self.trace_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Producer:
    """Produces records keyed by unit, optionally at a rate, in a background thread.

    With `allowed=n` it sends only the first n records until `allow(more)` lets it go
    on, so a test can keep events for the moments it wants them in flight (the rate
    counts from each release, not from the start).
    """

    def __init__(
        self,
        settings: Settings,
        records: list[Record],
        rate: float | None = None,
        allowed: int | None = None,
    ) -> None:
        self.settings = settings
        self.records = records
        self.rate = rate
        self.sent = 0
        self.allowed = len(records) if allowed is None else allowed
        self.error: BaseException | None = None
        self._gate = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Producer:
        self.thread.start()
        return self

    def allow(self, more: int | None = None) -> int:
        """Let `more` records (default: all the rest) go out; returns the new allowance."""
        with self._gate:
            self.allowed = (
                len(self.records) if more is None else min(len(self.records), self.allowed + more)
            )
            self._gate.notify_all()
            return self.allowed

    def streaming(self) -> bool:
        """True while records of the current allowance are still to be sent."""
        return self.sent < self.allowed

    def _run(self) -> None:
        try:
            producer = KafkaProducer(
                bootstrap_servers=self.settings.bootstrap_servers,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
            )
            started, first = time.monotonic(), 0
            for i, r in enumerate(self.records):
                if i >= self.allowed:
                    producer.flush()
                    with self._gate:
                        while i >= self.allowed:
                            self._gate.wait(timeout=1.0)
                    started, first = time.monotonic(), i
                if self.rate:
                    ahead = (i - first) / self.rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
                producer.send(
                    source_topic(self.settings, r.source), key=r.unit.encode(), value=r.value
                )
                self.sent = i + 1
            producer.flush()
            producer.close()
        except BaseException as err:  # noqa: BLE001 - reported by join()
            self.error = err

    def join(self, timeout: float = 120.0) -> None:
        self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        assert not self.thread.is_alive(), "producer did not finish"


def source_partitions(settings: Settings) -> list[TopicPartition]:
    """Every partition of the four source topics."""
    return [
        TopicPartition(source_topic(settings, s), p)
        for s in SOURCES
        for p in range(settings.partitions)
    ]


def lag(settings: Settings) -> int:
    """Records of the source topics the worker group has not committed yet."""
    admin = admin_client(settings.bootstrap_servers)
    try:
        ends = end_offsets(admin, source_partitions(settings))
        committed = admin.list_group_offsets({app_id(settings): None}).get(app_id(settings), {})
    finally:
        admin.close()
    total = 0
    for tp, end in ends.items():
        meta = committed.get(tp)
        total += end - (meta.offset if meta is not None and meta.offset >= 0 else 0)
    return total


def committed_offsets(settings: Settings) -> dict[TopicPartition, int]:
    admin = admin_client(settings.bootstrap_servers)
    try:
        group = app_id(settings)
        return {
            tp: m.offset for tp, m in admin.list_group_offsets({group: None}).get(group, {}).items()
        }
    finally:
        admin.close()


def read_log(settings: Settings, topics: Iterable[str]) -> list[tuple[str, int, int, bytes]]:
    """Every record of `topics`, per partition in offset order."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
    )
    try:
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[tuple[str, int, int, bytes]] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError("could not read the topics to their end within 60s")
            for messages in consumer.poll(timeout_ms=500).values():
                out.extend((m.topic, m.partition, m.offset, m.value) for m in messages)
    finally:
        consumer.close()
    out.sort(key=lambda r: (r[0], r[1], r[2]))
    return out


def source_log(settings: Settings) -> list[tuple[str, int, int, bytes]]:
    return read_log(settings, [source_topic(settings, s) for s in SOURCES])


def expected_dead_letter_ids(log: list[tuple[str, int, int, bytes]]) -> set[str]:
    """Ids of the records the stream must reject: invalid ones and conflicts."""
    ledger = Ledger()
    out = set()
    for topic, partition, offset, value in log:
        try:
            event = parse_event(value, REGISTRY)
        except ValidationError:
            out.add(dead_letter_id(topic, partition, offset, value))
            continue
        if ledger.apply(event).status == "conflict":
            out.add(dead_letter_id(topic, partition, offset, value))
    return out


def dead_letter_ids(settings: Settings) -> list[str]:
    return [json.loads(v)["id"] for *_, v in read_log(settings, [dead_letter_topic(settings)])]


def assert_live_form_equals_recompute(settings: Settings, days: Iterable[int]) -> int:
    """Cell by cell, every unit: the workers' live figures vs the batch recompute of the log."""
    log = source_log(settings)
    values = [value for *_, value in log]
    checked = 0
    for day in days:
        live = _rolled(gather(settings, day, timeout=60).own)
        batch = recompute(values, day)
        diff = {
            k: (live.get(k), batch.get(k))
            for k in live.keys() | batch.keys()
            if live.get(k) != batch.get(k)
        }
        assert not diff, f"live != recompute at day {day}: {sorted(diff.items())[:20]}"
        checked += len(batch)
    return checked


def _rolled(own: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    return form_figures(own, REGISTRY)


def source_records(settings: Settings) -> list[LogRecord]:
    """Every record of the source topics with its key, in log order (a replay's input)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
    )
    try:
        tps = source_partitions(settings)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[LogRecord] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError("could not read the source topics to their end within 60s")
            for messages in consumer.poll(timeout_ms=500).values():
                out.extend(
                    LogRecord(m.topic, m.partition, m.offset, m.value, m.key, keyed=True)
                    for m in messages
                )
    finally:
        consumer.close()
    out.sort(key=lambda r: (r.topic, r.partition, r.offset))
    return out


def log_ends(settings: Settings) -> dict[str, dict[int, int]]:
    """{topic: {partition: end offset}} of every source partition: caught-up workers report it."""
    admin = admin_client(settings.bootstrap_servers)
    try:
        ends = end_offsets(admin, source_partitions(settings))
    finally:
        admin.close()
    out: dict[str, dict[int, int]] = {}
    for tp, end in ends.items():
        out.setdefault(tp.topic, {})[tp.partition] = end
    return out


def wait_caught_up(settings: Settings, timeout: float = 90.0) -> Live:
    """The workers' merged live answer once its offsets are the log's end, every partition."""

    def caught_up() -> Live | None:
        try:
            live = gather(settings, FINAL, timeout=5)
        except Incomplete:
            return None
        return live if live.offsets == log_ends(settings) else None

    return wait_until(caught_up, timeout, "the live figures to reach the log's end", every=0.5)  # type: ignore[no-any-return]


def assert_live_equals_replay(
    settings: Settings, cutoffs: Iterable[str | None] = ("2024-12-31", None)
) -> dict[str, int]:
    """The workers' live answer, caught up with the log, against a replay of the log from Kafka.

    Cell by cell (own figures of every unit, and the rolled-up form), at each cutoff (None:
    the window's end), and the valid records counted: a lost event or one counted twice
    shows in the count even where it would cancel out in the cells. Returns
    {"cells": cells compared, "events": valid records}.
    """
    wait_caught_up(settings)
    replay = Rebuild(REGISTRY)
    replay.feed(source_records(settings))
    cells = 0
    for text in cutoffs:
        cutoff = parse_cutoff(text, CAMPAIGN)
        day = cutoff_and_day(text, CAMPAIGN)[1]
        live = gather(settings, day, timeout=30)
        assert live.offsets == log_ends(settings), "the workers moved on while being compared"
        want = replay.own_figures(cutoff)
        for name, got, expected in (
            ("own", dict(live.own), dict(want)),
            ("form", _rolled(live.own), _rolled(want)),
        ):
            diff = {
                k: (got.get(k), expected.get(k))
                for k in got.keys() | expected.keys()
                if got.get(k, 0) != expected.get(k, 0)
            }
            assert not diff, (
                f"live {name} figures != replay at {cutoff.iso()}: "
                f"{len(diff)} cells differ, e.g. {sorted(diff.items())[:12]}"
            )
            cells += len(expected)
        assert live.events == replay.events, (
            f"live figures count {live.events} valid records, the log has {replay.events}: "
            f"{replay.events - (live.events or 0)} lost (negative: counted twice)"
        )
    return {"cells": cells, "events": replay.events}


def changelog_journals(settings: Settings) -> dict[int, list[dict[str, int]]]:
    """Partition -> the applied offsets of each journal record in the table's changelog, in
    log order, as a recovery reads them (committed records only)."""
    topic = f"{app_id(settings)}-{TABLE}-changelog"
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
        consumer_timeout_ms=2000,
    )
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: dict[int, list[dict[str, int]]] = {tp.partition: [] for tp in tps}
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end within 60s")
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for m in messages:
                    if m.value is not None and json.loads(m.key).startswith("J|"):
                        out[tp.partition].append(json.loads(m.value)["a"])
    finally:
        consumer.close()
    return out


def assert_journals_only_advance(settings: Settings) -> int:
    """In every changelog partition, no journal record reflects less than one before it.

    Each owner of a partition resumes from the last journal it recovered, so in a log
    written by one owner at a time the applied offsets only grow; a write by a worker
    that lost the partition (a zombie) lands after its successor's with older offsets,
    and a recovery then takes keys from both. Returns the journal records checked.
    """
    checked = 0
    for partition, journals in changelog_journals(settings).items():
        seen: dict[str, int] = {}
        for i, applied in enumerate(journals):
            back = {t: (seen[t], o) for t, o in applied.items() if o < seen.get(t, -1)}
            lost = {t: (o, None) for t, o in seen.items() if t not in applied}
            assert not back and not lost, (
                f"changelog partition {partition}, journal record {i} of {len(journals)} "
                f"goes back (topic: (offset before, offset now)): {back or lost}"
            )
            seen.update(applied)
            checked += 1
    return checked
