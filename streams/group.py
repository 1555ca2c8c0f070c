"""The workers' consumer group, and the names and paths derived from it (no Faust here).

`streams.app` builds the Faust app under this id, `streams.live` finds the running
workers under it: both read it from here, so neither imports the other.

The changelog's transactional ids are derived here too, for now: they name Kafka
resources as `infra.topics` names the topics and groups, and belong there once infra
takes them over.
"""

from __future__ import annotations

from pathlib import Path

from infra.settings import Settings
from infra.topics import tallies_group

__all__ = ["TABLE", "app_id", "group_dir", "changelog_topic", "transactional_id"]

#: The one table of the streams (`streams.engine`): its changelog is `changelog_topic`.
TABLE = "state"


def app_id(settings: Settings) -> str:
    """The consumer group and changelog prefix (`infra.topics.tallies_group`)."""
    return tallies_group(settings)


def group_dir(settings: Settings) -> Path:
    """The group's folder under the state directory: workers' data dirs and registrations."""
    return Path(settings.state_dir) / "streams" / app_id(settings)


def changelog_topic(settings: Settings) -> str:
    """The table's changelog topic, as Faust names it (`<app id>-<table>-changelog`)."""
    return f"{app_id(settings)}-{TABLE}-changelog"


def transactional_id(settings: Settings, partition: int) -> str:
    """The Kafka transactional id of one changelog partition's writer.

    One id per partition, whichever worker owns it: a new owner starting its producer
    with it bumps the id's epoch, which aborts the old owner's open transaction and
    makes the broker refuse everything the old owner sends after (`streams.ownership`).
    """
    return f"{changelog_topic(settings)}-{partition}"
