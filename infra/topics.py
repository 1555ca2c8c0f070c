"""The topic table: every topic the pipeline uses, declared once, as data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from infra.settings import Settings

SOURCES = ("inspection", "mediation", "court", "complaint")


class Role(Enum):
    SOURCE = "source"  # system of record: a source system's events, keyed by unit
    DEAD_LETTER = "dead-letter"  # rejected records with their original bytes and reason
    CONTROL = "control"  # small compacted bookkeeping topics


@dataclass(frozen=True)
class TopicSpec:
    """One declared topic. `name` is the full name (prefix included)."""

    name: str
    role: Role
    partitions: int
    key: str
    description: str
    #: None = keep forever (the event topics are the system of record).
    retention_ms: int | None = None
    compacted: bool = False

    def configs(self, settings: Settings) -> dict[str, str]:
        """Topic-level configs to create with and to check against."""
        configs = {
            "retention.ms": str(-1 if self.retention_ms is None else self.retention_ms),
            "min.insync.replicas": str(settings.min_insync_replicas),
            "cleanup.policy": "compact" if self.compacted else "delete",
        }
        if self.retention_ms is None and not self.compacted:
            configs["retention.bytes"] = "-1"
        return configs


def source_topic(settings: Settings, source: str) -> str:
    """Name of the topic a source system writes to."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    return f"{settings.topic_prefix}{source}"


def dead_letter_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}deadletters"


def dead_letter_status_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}deadletters.status"


def tallies_group(settings: Settings) -> str:
    """The stream workers' consumer group, which is also their Faust app id: Faust names
    the table's changelog topic after it (`tallies_changelog`)."""
    return f"{settings.topic_prefix}tallies"


#: The stream workers' one table (`streams.engine`); Faust names its changelog after it.
TALLIES_TABLE = "state"


def tallies_changelog(settings: Settings) -> str:
    """The workers' table changelog, as Faust names it (`<group>-<table>-changelog`)."""
    return f"{tallies_group(settings)}-{TALLIES_TABLE}-changelog"


def changelog_writer_id(settings: Settings, partition: int) -> str:
    """The Kafka transactional id of one changelog partition's writer.

    One id per partition, whichever worker owns it: a new owner starting its producer
    with it bumps the id's epoch, which aborts the old owner's open transaction and
    makes the broker refuse everything the old owner sends after (`streams.ownership`).
    """
    return f"{tallies_changelog(settings)}-{partition}"


def archiver_group(settings: Settings) -> str:
    """The archiver's consumer group (it commits only after a durable rename)."""
    return f"{settings.topic_prefix}archiver"


def run_prefix(kind: str, run_id: str) -> str:
    """The topic prefix of one demo or benchmark run, so its topics, groups and
    changelogs never mix with another run's.

    >>> run_prefix("demo", "20261201-0630")
    'demo-20261201-0630.'
    """
    return f"{kind}-{run_id}."


def bench_topic(settings: Settings, name: str) -> str:
    """A benchmark's own topic beside the declared ones (e.g. the bare producer's)."""
    return f"{settings.topic_prefix}{name}"


def declared_topics(settings: Settings) -> tuple[TopicSpec, ...]:
    """All topics of the pipeline for these settings (prefix, partition count)."""
    p = settings.partitions
    sources = tuple(
        TopicSpec(
            name=source_topic(settings, source),
            role=Role.SOURCE,
            partitions=p,
            key="unit code",
            description=f"{source} events, validated or straight from the source system",
        )
        for source in SOURCES
    )
    return sources + (
        TopicSpec(
            name=dead_letter_topic(settings),
            role=Role.DEAD_LETTER,
            partitions=1,
            key="dead-letter id",
            description="rejected records: original bytes, file and line, reason",
        ),
        TopicSpec(
            name=dead_letter_status_topic(settings),
            role=Role.CONTROL,
            partitions=1,
            key="dead-letter id",
            description="resolution marks for dead letters (resubmitted, with the new event id)",
            compacted=True,
        ),
    )
