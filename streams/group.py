"""The workers' consumer group, and the names and paths derived from it (no Faust here).

`streams.app` builds the Faust app under this id, `streams.live` finds the running
workers under it: both read it from here, so neither imports the other.

The changelog's name and its writers' transactional ids are Kafka names, so they come
from `infra.topics` like every other topic and group name.
"""

from __future__ import annotations

from pathlib import Path

from infra.settings import Settings
from infra.topics import TALLIES_TABLE, tallies_group

__all__ = ["SESSION_TIMEOUT_S", "TABLE", "app_id", "group_dir"]

#: The one table of the streams (`streams.engine`); `infra.topics.tallies_changelog`.
TABLE = TALLIES_TABLE


#: How long the group waits for a silent worker (killed, paused) before giving its
#: partitions to the others, and so how long those partitions stand still: Kafka's least
#: (the broker's group.min.session.timeout.ms, 6 s by default; Faust's default is 60 s).
#: Heartbeats go every second from the consumer's own thread (Faust's aiokafka driver runs
#: the consumer in a thread of its own), so a long batch of the agent does not miss one.
SESSION_TIMEOUT_S = 6.0


def app_id(settings: Settings) -> str:
    """The consumer group and changelog prefix (`infra.topics.tallies_group`)."""
    return tallies_group(settings)


def group_dir(settings: Settings) -> Path:
    """The group's folder under the state directory: workers' data dirs and registrations."""
    return Path(settings.state_dir) / "streams" / app_id(settings)
