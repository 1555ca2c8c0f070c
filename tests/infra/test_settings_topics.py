"""Unit tests for settings and the topic table (no I/O but temp files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.errors import InfraError
from infra.settings import Settings
from infra.topics import SOURCES, Role, declared_topics, source_topic


def test_env_overrides_config_file(tmp_path: Path) -> None:
    config = tmp_path / "arrears.toml"
    config.write_text('[kafka]\nbootstrap_servers = "k1:9092"\nreplication_factor = 3\n')
    env = {"ARREARS_CONFIG": str(config), "ARREARS_MIN_INSYNC_REPLICAS": "2"}
    settings = Settings.from_env(env)
    assert settings.bootstrap_servers == "k1:9092"
    assert settings.external
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    env["ARREARS_BOOTSTRAP_SERVERS"] = "k2:9092"
    assert Settings.from_env(env).bootstrap_servers == "k2:9092"


def test_defaults_are_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert not settings.external
    assert settings.replication_factor == 1


def test_bad_number_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InfraError, match="ARREARS_PARTITIONS"):
        Settings.from_env({"ARREARS_PARTITIONS": "six"})


def test_missing_config_file_named(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="does not exist"):
        Settings.from_env({"ARREARS_CONFIG": str(tmp_path / "nope.toml")})


def test_settings_round_trip_through_env(tmp_path: Path) -> None:
    settings = Settings(
        bootstrap_servers="h:1", partitions=4, topic_prefix="x.", state_dir=tmp_path
    )
    assert Settings.from_env(settings.to_env()) == settings.with_overrides(
        cache_dir=settings.cache_dir
    )


def test_topic_table_declares_sources_and_dead_letters() -> None:
    settings = Settings(min_insync_replicas=2, partitions=12)
    specs = declared_topics(settings)
    names = {s.name for s in specs}
    assert {source_topic(settings, s) for s in SOURCES} <= names
    sources = [s for s in specs if s.role is Role.SOURCE]
    assert len(sources) == 4
    for spec in sources:
        assert spec.partitions == 12
        configs = spec.configs(settings)
        assert configs["retention.ms"] == "-1"  # the system of record keeps everything
        assert configs["min.insync.replicas"] == "2"
    assert any(s.role is Role.DEAD_LETTER for s in specs)
    with pytest.raises(ValueError, match="unknown source"):
        source_topic(settings, "bank")


def test_cluster_ids_never_look_like_options() -> None:
    from infra.broker import kraft_cluster_id

    ids = [kraft_cluster_id() for _ in range(2000)]  # ~1 in 64 raw ids start with '-'
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_every_derived_kafka_name_comes_from_infra_topics() -> None:
    from infra.topics import archiver_group, run_prefix, tallies_group
    from streams.group import app_id
    from warehouse.archive import archiver_group as used_by_the_archiver

    settings = Settings(topic_prefix="p.")
    assert tallies_group(settings) == "p.tallies" == app_id(settings)
    assert archiver_group(settings) == "p.archiver" == used_by_the_archiver(settings)
    assert run_prefix("demo", "20261201-0630") == "demo-20261201-0630."
