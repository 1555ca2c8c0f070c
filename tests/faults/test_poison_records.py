"""No record can stop the pipeline (issue 13): poison records produced straight to Kafka
with kcat (an independent client, bypassing `arrears ingest`), are dead letters for the worker and
skipped by the archiver and both replays, which all keep going and agree cell by cell."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaProducer

from infra.admin import ensure_topics
from infra.settings import Settings
from infra.topics import dead_letter_topic, source_topic
from tests.debian_kit import ensure_tools
from tests.faults.verdict import Verdict, three_paths
from tests.streams.kafka_kit import WorkerProcess, read_log
from tests.streams.workload import workload

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _poison(good: dict[str, object]) -> list[tuple[bytes | None, bytes, str]]:
    """(key, value, the dead letter's reason) of records no event may be."""
    unit = str(good["unit"]).encode()

    def variant(**payload: object) -> bytes:
        obj = json.loads(json.dumps(good))
        obj["event_id"] = f"poison-{len(payload)}-{sorted(payload)[0]}"
        obj["payload"].update(payload)
        return json.dumps(obj, ensure_ascii=False).encode()

    deep = b'{"event_id":"deep","x":' + b"[" * 300 + b"]" * 300 + b"}"
    huge = json.loads(json.dumps(good))
    huge["event_id"] = "huge"
    huge["payload"]["employer"]["name"] = "某" * 230_000  # ~700 kB: Kafka takes it, we do not
    return [
        (unit, deep, "json.depth"),
        (unit, b"[" * 1200 + b"]" * 1200, "json.depth"),
        (unit, variant(workers=99999999999999999999), "workers.range"),
        (unit, json.dumps(huge, ensure_ascii=False).encode(), "record.too_large"),
        (unit, b"\xff\xfe not utf-8", "json.utf8"),
        (b"320400" if unit != b"320400" else b"320402", json.dumps(good).encode(), "key.not_unit"),
        (None, json.dumps(good).encode(), "key.not_unit"),  # a null-key resend
    ]


class Kcat:
    """Produces one record per call with kcat, a client that shares no code with ours."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        ensure_tools(("kcat",), ("kcat",))
        self.path = shutil.which("kcat") or "kcat"
        self.settings = settings
        self.workdir = workdir
        self.sent = 0

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        body = self.workdir / f"kcat-{self.sent}.bin"
        body.write_bytes(value)  # one file, one message: any bytes, any size
        keyed = ["-k", key.decode()] if key is not None else []
        done = subprocess.run(
            [self.path, "-P", "-b", self.settings.bootstrap_servers, "-t", topic, *keyed]
            + ["-X", "message.max.bytes=2097152", "-X", "acks=all", str(body)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        self.sent += 1


def test_poison_records_straight_into_kafka_stop_nothing_and_change_no_figure(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
    record_verdict: Callable[[Verdict], None],
) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    records = workload(400, seed=31)
    worker = worker_factory(settings, "p1")
    goods = [json.loads(r.value) for r in records[:50] if r.source == "inspection"]
    amount = next(g for g in goods if "amount" in g["payload"])
    poison = _poison(next(g for g in goods if g["type"] == "employer.inspected"))
    amount_obj = json.loads(json.dumps(amount))
    amount_obj["event_id"] = "poison-amount"
    amount_obj["payload"]["amount"] = "99999999999999999999.00"
    poison.append((amount["unit"].encode(), json.dumps(amount_obj).encode(), "amount.range"))
    sent: Counter[str] = Counter()
    kcat = Kcat(settings, tmp_path)
    poison_topic = source_topic(settings, "inspection")
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    try:
        for i, record in enumerate(records):
            producer.send(
                source_topic(settings, record.source), key=record.unit.encode(), value=record.value
            )
            if i % 50 == 25 and poison:
                producer.flush()
                key, value, reason = poison[len(poison) - 1 - (i // 50) % len(poison)]
                kcat.send(poison_topic, key, value)
                sent[reason] += 1
        producer.flush()
    finally:
        producer.close()
    for key, value, reason in poison:  # every one at least once more, at the end
        kcat.send(poison_topic, key, value)
        sent[reason] += 1

    # The worker applied everything else and says so; live, Kafka and archive agree.
    verdict = three_paths(
        settings, tmp_path, "poison records (kcat)", sent=len(records) + kcat.sent
    )
    assert worker.status() is not None, worker.log_tail()
    reasons = Counter(
        json.loads(v)["reason"] for *_, v in read_log(settings, [dead_letter_topic(settings)])
    )
    # each poison record is a dead letter with its reason (the workload has its own dirt too)
    assert all(reasons[reason] >= n for reason, n in sent.items()), (sent, reasons)
    letters = read_log(settings, [dead_letter_topic(settings)])
    assert all(len(v) < 64 * 1024 for *_, v in letters)  # bounded: they always fit the topic

    # The archiver and the Kafka replay read past every one of them (three_paths ran both).
    refused = sum(reasons.values()) - reasons["event_id.conflict"]  # conflicts are valid
    assert verdict.refused == (refused, refused)
    record_verdict(verdict)
