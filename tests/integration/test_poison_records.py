"""No record can stop the pipeline (issue 13): poison records produced straight to Kafka,
by a bare producer that bypasses `arrears ingest`, are dead letters for the worker and
skipped by the archiver and both replays, which all keep going and agree cell by cell."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from contracts.cutoff import parse_cutoff
from infra.admin import ensure_topics
from infra.settings import Settings
from infra.topics import dead_letter_topic, source_topic
from streams.live import Incomplete, Live, cutoff_and_day, gather
from tests.streams.kafka_kit import WorkerProcess, read_log, source_partitions, wait_until
from tests.streams.workload import CAMPAIGN, FINAL, REGISTRY, workload
from warehouse.archive import Archiver
from warehouse.kafka_log import log_end, source_topics
from warehouse.rebuild import LogRecord, Rebuild
from warehouse.replay import rebuild_from_archive, rebuild_from_kafka

pytestmark = pytest.mark.integration


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


def _keyed_records(settings: Settings) -> list[LogRecord]:
    """Every source record with its key, in log order: what a replay reads."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        tps = source_partitions(settings)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[LogRecord] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for messages in consumer.poll(timeout_ms=500).values():
                out.extend(
                    LogRecord(m.topic, m.partition, m.offset, m.value, m.key, keyed=True)
                    for m in messages
                )
    finally:
        consumer.close()
    return sorted(out, key=lambda r: (r.topic, r.partition, r.offset))


def _live_equals_replay(settings: Settings) -> int:
    """The caught-up workers' figures against a replay of the keyed log, cell by cell."""
    topics = source_topics(settings)

    def caught_up() -> Live | None:
        try:
            live = gather(settings, FINAL, timeout=5)
        except Incomplete:
            return None
        end = log_end(settings.bootstrap_servers, topics)
        return live if live.offsets == end else None

    wait_until(caught_up, 120, "the live figures to reach the log's end", every=0.5)
    replay = Rebuild(REGISTRY)
    replay.feed(_keyed_records(settings))
    for text in ("2024-12-31", None):
        cutoff = parse_cutoff(text, CAMPAIGN)
        live = gather(settings, cutoff_and_day(text, CAMPAIGN)[1], timeout=30)
        want = {k: v for k, v in replay.own_figures(cutoff).items() if v}
        got = {k: v for k, v in live.own.items() if v}
        assert got == want, sorted(set(got.items()) ^ set(want.items()))[:12]
    assert live.events == replay.events
    return replay.events


def test_poison_records_straight_into_kafka_stop_nothing_and_change_no_figure(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
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
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", max_request_size=2 * 2**20
    )
    try:
        for i, record in enumerate(records):
            producer.send(
                source_topic(settings, record.source), key=record.unit.encode(), value=record.value
            )
            if i % 50 == 25 and poison:
                key, value, reason = poison[len(poison) - 1 - (i // 50) % len(poison)]
                producer.send(source_topic(settings, "inspection"), key=key, value=value)
                sent[reason] += 1
        for key, value, reason in poison:  # every one at least once more, at the end
            producer.send(source_topic(settings, "inspection"), key=key, value=value)
            sent[reason] += 1
        producer.flush()
    finally:
        producer.close()

    # The worker applied everything else and says so; the live figures equal a replay.
    assert _live_equals_replay(settings) > 0
    assert worker.status() is not None, worker.log_tail()
    reasons = Counter(
        json.loads(v)["reason"] for *_, v in read_log(settings, [dead_letter_topic(settings)])
    )
    # each poison record is a dead letter with its reason (the workload has its own dirt too)
    assert all(reasons[reason] >= n for reason, n in sent.items()), (sent, reasons)
    letters = read_log(settings, [dead_letter_topic(settings)])
    assert all(len(v) < 64 * 1024 for *_, v in letters)  # bounded: they always fit the topic

    # The archiver and the Kafka replay read past every one of them, to the same figures.
    topics = source_topics(settings)
    kafka = rebuild_from_kafka(settings.bootstrap_servers, topics, None, REGISTRY)
    archive = tmp_path / "archive"
    run = Archiver(settings.bootstrap_servers, settings, archive, REGISTRY).run(until_end=True)
    refused = sum(reasons.values()) - reasons["event_id.conflict"]  # conflicts are valid
    assert run.invalid == kafka.rebuild.invalid == refused
    batch = rebuild_from_archive(archive, topics, kafka.offsets, REGISTRY)
    for text in ("2024-12-31", None):
        cutoff = parse_cutoff(text, CAMPAIGN)
        assert batch.cells(cutoff).equals(kafka.cells(cutoff)), text
