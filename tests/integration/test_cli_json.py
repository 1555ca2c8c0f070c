"""`--json` of the commands that need a broker (ingest, archive, deadletters list, infra
status) parses and has the README's fields; the offline ones are in
tests/warehouse/test_cli_json.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.admin import ensure_topics
from infra.settings import Settings
from tests.integration.test_ingest import BAD, GOOD, arrears
from tests.pipeline.cli_kit import assert_documented

pytestmark = pytest.mark.integration


def test_broker_commands_print_their_documented_json(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    topics = settings_factory()
    ensure_topics(topics.bootstrap_servers, topics)
    events = tmp_path / "mixed.jsonl"
    events.write_bytes(b"\n".join(GOOD + BAD) + b"\n")
    ingested = arrears(topics, "ingest", "--quiet", "--json", str(events))
    assert ingested.returncode == 3, ingested.stderr
    summary = json.loads(ingested.stdout)
    assert_documented("ingest", summary)
    assert summary["accepted"] > 0 and summary["rejected"] == len(BAD)

    archived = arrears(
        topics, "archive", "--until-end", "--quiet", "--json", "--archive", str(tmp_path / "a")
    )
    assert archived.returncode == 0, archived.stderr
    assert_documented("archive", json.loads(archived.stdout))

    letters = arrears(topics, "deadletters", "list", "--json", "--limit", "2")
    assert letters.returncode == 0, letters.stderr
    body = json.loads(letters.stdout)
    assert_documented("deadletters list", body)
    assert (body["matched"], body["shown"], body["counts"]["open"]) == (len(BAD), 2, len(BAD))

    status = arrears(topics, "infra", "status", "--json")
    assert status.returncode == 0, status.stderr
    cluster = json.loads(status.stdout)
    assert_documented("infra status", cluster)
    assert any(g["group"].endswith("archiver") for g in cluster["groups"])
