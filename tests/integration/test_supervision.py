"""Hotspots and the ledger, two paths one answer: the snapshot cut by a Kafka replay (the
records read back by number) stores the hotspots and ledger that the archive batch then
rebuilds row for row (`replay --verify --from archive`)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from infra.settings import Settings
from pipeline.cli import main
from tests.contracts.eventkit import FACTORY
from tests.integration.test_warehouse import produce
from tests.warehouse.test_supervision import RULES_TOML, story
from warehouse.snapshot import list_snapshots

pytestmark = pytest.mark.integration


def test_the_kafka_replay_and_the_archive_batch_give_one_ledger(
    env: Settings, tmp_path: Path
) -> None:
    settings = env
    shipped = Path(__file__).parents[2] / "contracts" / "campaign-2024.toml"
    campaign = tmp_path / "campaign.toml"
    campaign.write_text(shipped.read_text("utf-8").split("[supervision]")[0] + RULES_TOML, "utf-8")
    produce(settings, list(story()))

    assert main(["snapshot", "--cutoff", "2024-12-31", "--quiet", "--campaign", str(campaign)]) == 0
    (snap,) = list_snapshots(settings.state_dir / "snapshots")
    assert snap.meta["source"] == "kafka"
    ledger = pl.read_parquet(snap.path / "ledger.parquet")
    assert ledger.select("id", "status", "cases_open", "verified_fen").rows() == [
        ("P-GOV-1", "open", 1, 10_000_000),
        (FACTORY["id"], "销号", 0, 3_000_000),
    ]
    assert main(["archive", "--until-end", "--quiet"]) == 0
    verify = ["replay", "--verify", str(snap.path), "--from", "archive", "--quiet"]
    assert main([*verify, "--campaign", str(campaign)]) == 0
