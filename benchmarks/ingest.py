"""Benchmark of file ingest: validate-and-produce against a bare producer sending the same bytes.

Not a test: it measures, on the machine at hand, events per second through
`Ingest` + `KafkaSink` (the `arrears ingest` path) and through a bare
kafka-python producer with the same settings reading the same file and keying
by the same unit, in the same run, plus peak resident memory.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import random
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient

from benchmarks.common import peak_rss_mb, proc_memory_mb
from contracts.clock import CST
from contracts.registry import Registry
from contracts.uscc import make_uscc
from infra.admin import ensure_topics
from infra.producer import make_producer
from infra.settings import Settings
from infra.topics import Role, TopicSpec, bench_topic, declared_topics, run_prefix
from pipeline.ingest import Ingest, KafkaSink, default_validators

__all__ = ["BenchResult", "write_events", "run_bench"]

_UNIT = re.compile(rb'"unit": ?"(\d{6})"')
_INDUSTRIES = ("E4710", "4720", "C1810", "3311", "E48", "4813", "G5411", "K7020")


def _employer(rng: random.Random, unit: str) -> dict[str, Any]:
    return {
        "id": make_uscc(rng, unit),
        "name": f"常州某{rng.randrange(10_000)}有限公司",
        "industry": rng.choice(_INDUSTRIES),
    }


def _event(i: int, rng: random.Random, unit: str, at: datetime) -> dict[str, Any]:
    """One valid event; the mix covers the four sources and the larger payloads."""
    kind = i % 5
    occurred = at.isoformat(timespec="seconds")
    workers = rng.randrange(1, 300)
    amount = f"{rng.randrange(1, 5_000_000)}.{rng.randrange(100):02d}"
    base = {
        "event_id": f"bench-{i:09d}",
        "occurred_at": occurred,
        "recorded_at": (at + timedelta(minutes=7)).isoformat(timespec="seconds"),
        "unit": unit,
    }
    if kind == 0:
        return {
            **base,
            "source": "inspection",
            "type": "employer.inspected",
            "payload": {
                "employer": _employer(rng, unit),
                "project": {
                    "id": f"P-{i % 9973}",
                    "name": "某安置房项目",
                    "government_investment": bool(i % 2),
                    "soe": False,
                },
                "workers": workers,
                "migrant_workers": workers // 2,
                "method": "onsite",
            },
        }
    if kind == 1:
        return {
            **base,
            "source": "inspection",
            "type": "arrears.verified",
            "payload": {
                "case_id": f"C-{i}",
                "employer": _employer(rng, unit),
                "workers": workers,
                "amount": amount,
            },
        }
    if kind == 2:
        return {
            **base,
            "source": "mediation",
            "type": "dispute.resolved",
            "payload": {
                "case_no": f"M-{i}",
                "employer": _employer(rng, unit),
                "workers": workers,
                "amount": amount,
                "channel": "mediation",
                "new_employment_form": False,
            },
        }
    if kind == 3:
        return {
            **base,
            "source": "court",
            "type": "execution.concluded",
            "payload": {
                "case_no": f"(2024)苏0412执{i % 100_000}号",
                "employer": _employer(rng, unit),
                "workers": workers,
                "amount": amount,
                "new_employment_form": False,
            },
        }
    return {
        **base,
        "source": "complaint",
        "type": "lead.received",
        "payload": {
            "lead_id": f"L-{i}",
            "intake": "hotline",
            "employer": _employer(rng, unit),
            "workers_claimed": workers,
            "amount_claimed": amount,
        },
    }


def write_events(path: Path, n: int, *, seed: int = 1, unit: str = "320400") -> int:
    """Write `n` valid events as JSON Lines, streaming (flat memory), spread over the units
    below `unit` in the registry (Changzhou's districts by default). Returns the bytes written."""
    rng = random.Random(seed)
    registry = Registry.load()
    units = [u.code for u in registry.subtree(unit) if u.code != unit] or [unit]
    start = datetime(2024, 12, 1, 8, 0, tzinfo=CST)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            at = start + timedelta(seconds=i * 5)
            out.write(json.dumps(_event(i, rng, rng.choice(units), at), ensure_ascii=False) + "\n")
    return path.stat().st_size


@dataclass(frozen=True)
class BenchResult:
    events: int
    file_bytes: int
    partitions: int
    bare_seconds: float
    bare_events_per_s: float
    ingest_seconds: float
    ingest_events_per_s: float
    ratio_to_bare: float
    accepted: int
    rejected: int
    peak_rss_mb_after_bare: float
    peak_rss_mb_after_ingest: float
    validators: int
    peak_rss_mb_validator: float
    python: str
    machine: str
    started_at: str

    @property
    def meets_targets(self) -> bool:
        return self.ingest_events_per_s >= 20_000 and self.ratio_to_bare >= 0.5

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "targets": {
                "events_per_s": 20_000,
                "ratio_to_bare": 0.5,
                "peak_rss_mb": 500,
                "met": self.meets_targets,
            },
        }


def _bare(path: Path, bootstrap: str, topic: str) -> tuple[float, int]:
    """The floor: same file read line by line, same key, same producer settings, no validation."""
    producer = make_producer(bootstrap, client_id="arrears-bench-bare")
    sink = KafkaSink(producer)
    began = time.perf_counter()
    with path.open("rb") as lines:
        for line in lines:
            raw = line.rstrip(b"\r\n")
            match = _UNIT.search(raw)
            sink.send(topic, match.group(1) if match else b"", raw, [])
    sink.close()
    return time.perf_counter() - began, sink.sent


def _children_peak_rss_mb() -> float:
    """The largest peak RSS (VmHWM) of this process's live children, on Linux; else 0.

    ru_maxrss of children is no use here: Linux carries a parent's peak across fork
    and exec, so a small child would report its parent's size.
    """
    pids = [c.pid for c in multiprocessing.active_children() if c.pid is not None]
    return max((proc_memory_mb(pid).get("VmHWM", 0.0) for pid in pids), default=0.0)


def _ingest(
    path: Path,
    bootstrap: str,
    settings: Settings,
    validators: int,
) -> tuple[float, Ingest, float]:
    """The `arrears ingest` path, validator processes included (their start-up is timed)."""
    sink = KafkaSink(make_producer(bootstrap))
    began = time.perf_counter()
    with (
        Ingest(Registry.load(), settings, sink, validators=validators) as ingest,
        path.open("rb") as lines,
    ):
        ingest.feed(path.name, lines)
        validator_rss = _children_peak_rss_mb()
    sink.close()
    return time.perf_counter() - began, ingest, validator_rss


def run_bench(
    bootstrap: str,
    settings: Settings,
    events: int,
    *,
    keep_topics: bool = False,
    say: Callable[[str], None] = print,
    workdir: Path | None = None,
    validators: int | None = None,
) -> BenchResult:
    """Generate `events`, send them bare and through ingest into fresh bench topics, measure.

    `validators` is as for `arrears ingest --validators` (default: one per core beyond
    the first).
    """
    validators = default_validators() if validators is None else validators
    bench = settings.with_overrides(topic_prefix=run_prefix("bench", uuid.uuid4().hex[:8]))
    bare_topic = bench_topic(bench, "bare")
    specs = list(declared_topics(bench)) + [
        TopicSpec(
            name=bare_topic,
            role=Role.SOURCE,
            partitions=bench.partitions,
            key="unit code",
            description="bench: the bare producer's copy",
        )
    ]
    started_at = datetime.now(CST).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "bench-events.jsonl"
        say(f"generating {events:,} valid events in {path} ...")
        size = write_events(path, events)
        say(f"creating bench topics {bench.topic_prefix}* ({bench.partitions} partitions) ...")
        ensure_topics(bootstrap, bench, specs)
        try:
            say("bare producer ...")
            bare_s, sent = _bare(path, bootstrap, bare_topic)
            rss_bare = peak_rss_mb()
            say(
                f"  {sent:,} in {bare_s:.1f}s = {sent / bare_s:,.0f}/s; validate and produce "
                f"({validators} validator processes) ..."
            )
            ingest_s, ingest, rss_validator = _ingest(path, bootstrap, bench, validators)
            rss_ingest = peak_rss_mb()
        finally:
            if not keep_topics:
                admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="arrears-bench")
                try:
                    admin.delete_topics([s.name for s in specs])
                finally:
                    admin.close()
    summary = ingest.summary
    bare_rate = events / bare_s
    ingest_rate = events / ingest_s
    return BenchResult(
        events=events,
        file_bytes=size,
        partitions=bench.partitions,
        bare_seconds=round(bare_s, 3),
        bare_events_per_s=round(bare_rate),
        ingest_seconds=round(ingest_s, 3),
        ingest_events_per_s=round(ingest_rate),
        ratio_to_bare=round(ingest_rate / bare_rate, 3),
        accepted=summary.accepted_total,
        rejected=summary.rejected_total,
        peak_rss_mb_after_bare=round(rss_bare, 1),
        peak_rss_mb_after_ingest=round(rss_ingest, 1),
        validators=validators,
        peak_rss_mb_validator=round(rss_validator, 1),
        python=platform.python_version(),
        machine=f"{platform.machine()} {_cpus()} CPUs",
        started_at=started_at,
    )


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
