"""`arrears deadletters dismiss` against the real broker: the mark goes through the status
topic and back, and the quality gate reading the dead letters from Kafka counts it out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.quality.config import DEFAULT_QUALITY_CONFIG
from infra.admin import ensure_topics
from infra.settings import Settings
from infra.topics import dead_letter_status_topic
from pipeline.ingest.deadletters import load, read_to_end
from tests.integration.test_ingest import BAD, arrears
from tests.quality.test_offline import check_args, write_campaign

pytestmark = pytest.mark.integration

WHY = "the source system confirms the record was junk (ticket 2024-117)"


@pytest.fixture
def topics(settings_factory: Callable[..., Settings]) -> Settings:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    return settings


def check(settings: Settings, c: dict[str, Path], *config: str) -> tuple[int, dict[str, Any]]:
    """`arrears check` with the dead letters read from Kafka (the default); its result."""
    run = arrears(settings, *check_args(c, "kafka"), *config)
    assert run.returncode in (0, 6), run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads((c["snapshot"] / "quality/check-result.json").read_text("utf-8"))
    return run.returncode, result


def open_warning(result: dict[str, Any]) -> dict[str, Any]:
    (outcome,) = [o for o in result["outcomes"] if o["check"] == "dead_letters.open_warning"]
    return outcome


def test_a_dismissal_goes_round_the_status_topic_and_the_gate_counts_it_out(
    topics: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(BAD) + b"\n")
    assert arrears(topics, "ingest", "--quiet", str(bad)).returncode == 3
    c = write_campaign(tmp_path / "campaign", broken=False, letters=0)

    code, result = check(topics, c)
    counted = open_warning(result)
    n = counted["offending_count"]
    assert code == 0 and n >= 2 and counted["observed"] == f"{n} unresolved (allowed 0)"
    # The gate refuses at one letter fewer than are open ...
    strict = tmp_path / "strict.toml"
    strict.write_text(
        DEFAULT_QUALITY_CONFIG.read_text("utf-8").replace(
            "critical_above = 100", f"critical_above = {n - 1}"
        ),
        "utf-8",
    )
    code, result = check(topics, c, "--config", str(strict))
    assert code == 6 and result["critical_failures"] == ["dead_letters.open_critical"]

    # ... and takes the snapshot once one of them is dismissed.
    target = counted["offending"][0]["id"]
    done = arrears(topics, "deadletters", "dismiss", target, "--reason", WHY, "--by", "wang.fang")
    assert done.returncode == 0, done.stderr
    assert f"dismissed {target} by wang.fang" in done.stdout

    marks = read_to_end(topics.bootstrap_servers, [dead_letter_status_topic(topics)])
    ((key, mark),) = [(r.key, json.loads(r.value)) for r in marks]
    assert key == target.encode()
    assert mark["status"] == "dismissed" and mark["dismissal"] == WHY
    assert mark["dismissed_by"] == "wang.fang" and mark["dismissed_at"].endswith("+08:00")
    letters, _ = load(topics.bootstrap_servers, topics)
    by_id = {dl.id: dl for dl in letters}
    assert by_id[target].status == "dismissed" and by_id[target].dismissal == WHY
    assert sum(dl.status == "open" for dl in letters) == len(BAD) - 1  # nothing deleted
    listed = arrears(topics, "deadletters", "list", "--status", "dismissed")
    assert listed.returncode == 0 and target in listed.stdout

    code, result = check(topics, c, "--config", str(strict))
    assert code == 0 and result["critical_failures"] == []
    after = open_warning(result)
    assert after["offending_count"] == n - 1
    assert target not in {r["id"] for r in after["offending"]}
    page = (c["snapshot"] / "quality/index.html").read_text("utf-8")
    assert f"{n - 1} open, 1 dismissed" in page and WHY in page and "wang.fang" in page

    again = arrears(topics, "deadletters", "dismiss", target, "--reason", "twice")
    assert again.returncode == 0 and f"skipped {target}: already dismissed" in again.stdout
    marks = list(read_to_end(topics.bootstrap_servers, [dead_letter_status_topic(topics)]))
    assert len(marks) == 1  # a second dismissal writes nothing
