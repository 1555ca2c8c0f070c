"""File ingest and dead letters against the real broker, through the `arrears` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.admin import ensure_topics
from infra.settings import Settings
from infra.topics import SOURCES, dead_letter_status_topic, source_topic
from pipeline.ingest.deadletters import load, read_to_end, select

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "fixtures"
GOOD = (FIXTURES / "good_events.jsonl").read_bytes().splitlines()
BAD = (FIXTURES / "bad_events.jsonl").read_bytes().splitlines()
REASONS = [
    r.strip()
    for r in (FIXTURES / "bad_events.reasons").read_text().splitlines()
    if r.strip() and not r.startswith("#")
]
ROOT = Path(__file__).resolve().parents[2]


def arrears(
    settings: Settings, *argv: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *argv],
        input=stdin and stdin.decode(),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def sources(settings: Settings) -> dict[str, list[tuple[bytes, bytes]]]:
    """(key, value) per source topic, everything up to the current end offsets."""
    out: dict[str, list[tuple[bytes, bytes]]] = {}
    for source in SOURCES:
        records = read_to_end(settings.bootstrap_servers, [source_topic(settings, source)])
        out[source] = [(r.key, r.value) for r in records]
    return out


@pytest.fixture
def topics(settings_factory: Callable[..., Settings]) -> Settings:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    return settings


def test_ingest_routes_good_events_and_dead_letters_every_bad_line(
    topics: Settings, tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"\n".join(GOOD + BAD + GOOD[:2]) + b"\n")
    summary = tmp_path / "summary.json"
    run = arrears(topics, "ingest", "--quiet", "--summary-json", str(summary), str(mixed))
    assert run.returncode == 3, run.stderr
    assert "rejected by reason" in run.stdout and "duplicates skipped" in run.stdout
    counts = json.loads(summary.read_text())
    assert counts["rejected"] == len(BAD) and counts["duplicates"] == 2

    got = sources(topics)
    for line in GOOD:
        obj = json.loads(line)
        assert (obj["unit"].encode(), line) in got[obj["source"]]
    assert sum(map(len, got.values())) == len(GOOD)  # the in-file duplicates were not sent

    letters, unreadable = load(topics.bootstrap_servers, topics)
    assert unreadable == 0
    assert [dl.reason for dl in letters] == REASONS  # one per bad line, each its own reason
    assert [dl.line for dl in letters] == list(range(len(GOOD) + 1, len(GOOD) + len(BAD) + 1))
    assert all(dl.file == str(mixed) and dl.status == "open" for dl in letters)
    assert [dl.original_bytes() for dl in letters] == BAD


def test_all_good_exits_0_and_reingest_counts_duplicates(topics: Settings, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(GOOD) + b"\n")
    assert arrears(topics, "ingest", "--quiet", str(good)).returncode == 0
    summary = tmp_path / "summary.json"
    again = arrears(
        topics, "ingest", "--quiet", "--skip-known", "--summary-json", str(summary), str(good)
    )
    assert again.returncode == 0, again.stderr
    assert f"{len(GOOD)} event ids already in Kafka" in again.stderr
    assert json.loads(summary.read_text())["duplicates"] == len(GOOD)
    assert sum(map(len, sources(topics).values())) == len(GOOD)  # nothing sent twice

    # Without --skip-known the events are resent (the streams drop them by event_id) and
    # exit 0; standard input works as a file.
    resent = arrears(topics, "ingest", "--quiet", "-", stdin=b"\n".join(GOOD[:3]) + b"\n")
    assert resent.returncode == 0, resent.stderr
    assert sum(map(len, sources(topics).values())) == len(GOOD) + 3


def test_export_fix_resubmit_counts_the_fixed_record_once(topics: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(BAD) + b"\n")
    assert arrears(topics, "ingest", "--quiet", str(bad)).returncode == 3

    listed = arrears(topics, "deadletters", "list", "--reason", "unit.unknown")
    assert listed.returncode == 0, listed.stderr
    assert "unit.unknown" in listed.stdout and "1 match" in listed.stdout

    export = tmp_path / "fixme.jsonl"
    run = arrears(topics, "deadletters", "export", "--out", str(export))
    assert run.returncode == 0, run.stderr
    items = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert len(items) == len(BAD)
    unknown = next(i for i in items if i["_deadletter"]["reason"] == "unit.unknown")
    negative = next(i for i in items if i["_deadletter"]["reason"] == "workers.negative")
    unknown["record"]["unit"] = "320412"
    unknown["record"]["event_id"] = "insp-320412-0100"
    fixed = tmp_path / "fixed.jsonl"
    fixed.write_text(json.dumps(unknown, ensure_ascii=False) + "\n", encoding="utf-8")

    first = arrears(topics, "deadletters", "resubmit", str(fixed))
    assert first.returncode == 0, first.stdout + first.stderr
    second = arrears(topics, "deadletters", "resubmit", str(fixed))
    assert second.returncode == 0 and "already resolved" in second.stdout

    inspection = sources(topics)["inspection"]
    sent = [v for k, v in inspection if json.loads(v)["event_id"] == "insp-320412-0100"]
    assert len(sent) == 1 and inspection[0][0] == b"320412"
    letters, _ = load(topics.bootstrap_servers, topics)
    (resolved,) = select(letters, status="resolved")
    assert resolved.id == unknown["_deadletter"]["id"]
    assert resolved.event_id == "insp-320412-0100" and resolved.resolved_at
    assert len(select(letters, status="open")) == len(BAD) - 1  # marked, never deleted
    marks = list(read_to_end(topics.bootstrap_servers, [dead_letter_status_topic(topics)]))
    assert len(marks) == 1

    # A record still bad is reported, exits 3, and its dead letter stays open.
    still = tmp_path / "still.jsonl"
    still.write_text(json.dumps(negative, ensure_ascii=False) + "\n", encoding="utf-8")
    run = arrears(topics, "deadletters", "resubmit", str(still))
    assert run.returncode == 3 and "workers.negative" in run.stdout
    letters, _ = load(topics.bootstrap_servers, topics)
    assert len(letters) == len(BAD)  # no new dead letter
    assert len(select(letters, status="open")) == len(BAD) - 1


def test_unreachable_broker_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(GOOD) + b"\n")
    settings = Settings(bootstrap_servers="127.0.0.1:9", topic_prefix="nowhere.")
    started = time.monotonic()
    run = arrears(settings, "ingest", "--quiet", str(good))
    assert run.returncode == 1
    assert "arrears: error:" in run.stderr and "Kafka" in run.stderr
    assert "connection refused" in run.stderr and "nothing was sent" in run.stderr
    assert time.monotonic() - started < 15  # nothing listens: no 30 s of retries


def test_a_json_file_sends_nothing_and_an_empty_one_warns(topics: Settings, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(GOOD) + b"\n")
    array = tmp_path / "cases.json"
    array.write_text(json.dumps([json.loads(line) for line in GOOD], indent=2), encoding="utf-8")
    refused = arrears(topics, "ingest", "--quiet", str(good), str(array))
    assert refused.returncode == 2, refused.stderr
    assert f"{array} is JSON, not JSON Lines" in refused.stderr
    assert "jq -c '.[]'" in refused.stderr and "nothing was sent" in refused.stderr
    assert sum(map(len, sources(topics).values())) == 0  # not even the good file's events
    assert load(topics.bootstrap_servers, topics)[0] == []  # and no dead letter

    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n\n")
    summary = tmp_path / "summary.json"
    run = arrears(
        topics, "ingest", "--quiet", "--summary-json", str(summary), str(empty), str(good)
    )
    assert run.returncode == 0, run.stderr
    assert f"warning: {empty} is empty" in run.stderr
    counts = json.loads(summary.read_text())
    assert counts["empty_files"] == [str(empty)] and counts["accepted"] == len(GOOD)
