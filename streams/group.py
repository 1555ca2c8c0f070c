"""The workers' consumer group, and the paths named after it (no Faust here).

`streams.app` builds the Faust app under this id, `streams.live` finds the running
workers under it: both read it from here, so neither imports the other.
"""

from __future__ import annotations

from pathlib import Path

from infra.settings import Settings

__all__ = ["app_id", "group_dir"]


def app_id(settings: Settings) -> str:
    """The consumer group and changelog prefix: one per topic prefix, so tests are isolated."""
    return f"{settings.topic_prefix}tallies"


def group_dir(settings: Settings) -> Path:
    """The group's folder under the state directory: workers' data dirs and registrations."""
    return Path(settings.state_dir) / "streams" / app_id(settings)
