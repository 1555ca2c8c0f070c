"""The workers' consumer group, and the paths named after it (no Faust here).

`streams.app` builds the Faust app under this id, `streams.live` finds the running
workers under it: both read it from here, so neither imports the other.
"""

from __future__ import annotations

from pathlib import Path

from infra.settings import Settings
from infra.topics import tallies_group

__all__ = ["app_id", "group_dir"]


def app_id(settings: Settings) -> str:
    """The consumer group and changelog prefix (`infra.topics.tallies_group`)."""
    return tallies_group(settings)


def group_dir(settings: Settings) -> Path:
    """The group's folder under the state directory: workers' data dirs and registrations."""
    return Path(settings.state_dir) / "streams" / app_id(settings)
