"""Ingest under faults against the real broker: a validator process killed mid-file, an
oversized line, corrections and retractions filed under another unit. Ingest fails fast
with how to go on, `--skip-known` goes on, and live, Kafka and archive agree."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.admin import ensure_topics
from infra.settings import Settings
from infra.topics import dead_letter_topic
from tests.faults.procs import arrears, generate, records_in_log
from tests.faults.verdict import Verdict, three_paths
from tests.streams.kafka_kit import WorkerProcess, read_log, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _validators(pid: int) -> list[int]:
    """The validator processes of ingest `pid` (not multiprocessing's resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"resource_tracker" not in cmdline and b"forkserver" not in cmdline:
                found.append(int(child))
    return found


def _dirty_file(path: Path) -> tuple[list[bytes], Counter[str]]:
    """A generated December with an oversized line and cross-unit targets put in; returns
    the generated lines (without the three put in) and the dead letters those must give."""
    lines = generate(path, 30_000, seed=11)
    events = []
    for line in lines[:400]:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    first = next(e for e in events if e.get("source") == "inspection" and "payload" in e)
    other = next(u for u in ("320402", "320411", "320412") if u != first["unit"])
    huge = json.loads(json.dumps(first))
    huge["event_id"] += "-huge"
    huge["payload"]["employer"]["name"] = "某" * 40_000  # ~120 kB: over the 64 KiB limit
    fix = dict(first, event_id=first["event_id"] + "-x", unit=other, supersedes=first["event_id"])
    retract = {
        "event_id": first["event_id"] + "-r",
        "source": first["source"],
        "type": "event.retracted",
        "occurred_at": first["occurred_at"],
        "unit": other,
        "payload": {"retracts": first["event_id"], "reason": "filed under the wrong unit"},
    }
    extra = [json.dumps(o, ensure_ascii=False).encode() for o in (huge, fix, retract)]
    path.write_bytes(b"\n".join(lines[:500] + extra + lines[500:]) + b"\n")
    return lines, Counter(
        {"record.too_large": 1, "supersedes.other_unit": 1, "retracts.other_unit": 1}
    )


def test_a_killed_validator_an_oversized_line_and_cross_unit_targets(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
    record_verdict: Callable[[Verdict], None],
) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    data = tmp_path / "december.jsonl"
    lines, planted = _dirty_file(data)
    worker = worker_factory(settings, "i1")

    ingest = arrears(settings, "ingest", "--quiet", "--validators", "2", str(data))
    wait_until(lambda: records_in_log(settings) > 3000, 120, "ingest to send a part")
    victims = _validators(ingest.pid)
    assert victims, "ingest runs no validator processes"
    killed = time.monotonic()
    os.kill(victims[0], signal.SIGKILL)
    _, err = ingest.communicate(timeout=120)
    noticed = time.monotonic() - killed
    assert ingest.returncode == 1 and "Traceback" not in err, err
    assert "--skip-known" in err, err
    assert noticed < 30, f"ingest took {noticed:.0f}s to notice its dead validator"

    again = arrears(settings, "ingest", "--quiet", "--skip-known", str(data))
    _, err = again.communicate(timeout=300)
    assert again.returncode == 3, err  # some records dead-lettered: the planted ones among them
    verdict = three_paths(
        settings,
        tmp_path,
        "validator kill, huge line, cross-unit",
        sent=len(lines) + 3,
        recovery_s=noticed,
        input_lines=lines,  # the planted three refused, nothing else lost
    )
    reasons = Counter(
        json.loads(v)["reason"] for *_, v in read_log(settings, [dead_letter_topic(settings)])
    )
    assert all(reasons[r] >= n for r, n in planted.items()), reasons
    assert worker.stop(timeout=10) == 0, worker.log_tail()
    record_verdict(verdict)
