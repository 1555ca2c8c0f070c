"""Topic creation and checks, and the cluster status `arrears infra status` shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic, OffsetSpec
from kafka.errors import KafkaError

from infra.broker import LocalBroker
from infra.errors import InfraError, TopicMismatchError
from infra.settings import Settings
from infra.topics import TopicSpec, declared_topics


def bootstrap_servers(settings: Settings) -> str:
    """Where to connect: the configured cluster, or the running local broker."""
    if settings.external:
        return settings.bootstrap_servers
    info = LocalBroker(settings).info()
    if info is None:
        raise InfraError(
            "the local Kafka broker is not running; start it with `arrears infra up` "
            "(or set ARREARS_BOOTSTRAP_SERVERS to use an existing cluster)"
        )
    return info.bootstrap


def admin_client(bootstrap: str) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="arrears-admin", request_timeout_ms=15000
        )
    except KafkaError as err:
        raise InfraError(f"cannot reach Kafka at {bootstrap}: {err}") from err


def ensure_topics(
    bootstrap: str, settings: Settings, specs: Iterable[TopicSpec] | None = None
) -> list[str]:
    """Create the declared topics that are missing; check the rest against the declaration.

    Returns the names created. Raises `TopicMismatchError` listing every
    disagreement (partition count, replication factor, retention, cleanup policy).
    """
    specs = list(declared_topics(settings) if specs is None else specs)
    admin = admin_client(bootstrap)
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            admin.create_topics(
                [
                    NewTopic(
                        s.name,
                        s.partitions,
                        settings.replication_factor,
                        topic_configs=s.configs(settings),
                    )
                    for s in missing
                ],
                wait_for_metadata=True,
            )
        problems = _mismatches(admin, [s for s in specs if s.name in existing], settings)
    finally:
        admin.close()
    if problems:
        raise TopicMismatchError(problems)
    return [s.name for s in missing]


def _mismatches(admin: KafkaAdminClient, specs: list[TopicSpec], settings: Settings) -> list[str]:
    if not specs:
        return []
    problems: list[str] = []
    described = {t["name"]: t for t in admin.describe_topics([s.name for s in specs])}
    configs = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs], config_filter="all"
    ).get("topic", {})
    for spec in specs:
        partitions = described[spec.name]["partitions"]
        if len(partitions) != spec.partitions:
            problems.append(
                f"{spec.name}: {len(partitions)} partitions on the broker, "
                f"{spec.partitions} declared"
            )
        replicas = min(len(p["replica_nodes"]) for p in partitions) if partitions else 0
        if replicas != settings.replication_factor:
            problems.append(
                f"{spec.name}: replication factor {replicas} on the broker, "
                f"{settings.replication_factor} declared (ARREARS_REPLICATION_FACTOR)"
            )
        actual = configs.get(spec.name, {})
        for key, wanted in spec.configs(settings).items():
            have = actual.get(key, {}).get("value")
            if have is not None and have != wanted:
                problems.append(f"{spec.name}: {key}={have} on the broker, {wanted} declared")
    return problems


@dataclass(frozen=True)
class TopicStatus:
    name: str
    partitions: int
    end_offsets: dict[int, int]
    declared: bool

    @property
    def messages(self) -> int:
        return sum(self.end_offsets.values())


@dataclass(frozen=True)
class GroupStatus:
    group: str
    state: str
    lag: dict[str, int] = field(default_factory=dict)  # per topic

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())


@dataclass(frozen=True)
class ClusterStatus:
    bootstrap: str
    version: str
    topics: list[TopicStatus]
    missing: list[str]
    groups: list[GroupStatus]


def end_offsets(
    admin: KafkaAdminClient, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    if not partitions:
        return {}
    answer = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
    return {tp: int(v.offset) for tp, v in answer.items()}


def cluster_status(bootstrap: str, settings: Settings, version: str) -> ClusterStatus:
    """Topics (declared ones first) with partitions and end offsets, and group lag."""
    declared = {s.name for s in declared_topics(settings)}
    admin = admin_client(bootstrap)
    try:
        names = sorted(t for t in admin.list_topics() if not t.startswith("__"))
        described = {t["name"]: t for t in admin.describe_topics(names)} if names else {}
        partitions = [
            TopicPartition(n, p["partition_index"])
            for n in names
            for p in described[n]["partitions"]
        ]
        ends = end_offsets(admin, partitions)
        topics = [
            TopicStatus(
                name=n,
                partitions=len(described[n]["partitions"]),
                end_offsets={tp.partition: off for tp, off in ends.items() if tp.topic == n},
                declared=n in declared,
            )
            for n in names
        ]
        topics.sort(key=lambda t: (not t.declared, t.name))
        groups = []
        listed = admin.list_groups()
        committed = (
            admin.list_group_offsets({g["group_id"]: None for g in listed}) if listed else {}
        )
        for g in listed:
            lag: dict[str, int] = {}
            for tp, meta in committed.get(g["group_id"], {}).items():
                if tp in ends and meta.offset >= 0:
                    lag[tp.topic] = lag.get(tp.topic, 0) + max(0, ends[tp] - meta.offset)
            groups.append(GroupStatus(g["group_id"], str(g.get("group_state", "?")), lag))
    finally:
        admin.close()
    present = {t.name for t in topics}
    return ClusterStatus(
        bootstrap=bootstrap,
        version=version,
        topics=topics,
        missing=sorted(declared - present),
        groups=sorted(groups, key=lambda g: g.group),
    )


def prefixed(bootstrap: str, prefix: str) -> tuple[list[str], list[str]]:
    """The topics and consumer groups whose names start with `prefix` (a demo's run)."""
    if not prefix:
        raise InfraError("an empty prefix would name every topic; give the run's prefix")
    admin = admin_client(bootstrap)
    try:
        topics = sorted(t for t in admin.list_topics() if t.startswith(prefix))
        groups = sorted(
            g["group_id"] for g in admin.list_groups() if g["group_id"].startswith(prefix)
        )
    except KafkaError as err:
        raise InfraError(f"cannot list the topics on {bootstrap}: {err}") from err
    finally:
        admin.close()
    return topics, groups


def delete_prefixed(bootstrap: str, topics: list[str], groups: list[str]) -> None:
    """Delete `topics` and `groups` (as `prefixed` found them)."""
    admin = admin_client(bootstrap)
    try:
        if groups:
            admin.delete_consumer_groups(groups)
        if topics:
            admin.delete_topics(topics, timeout_ms=30_000)
    except KafkaError as err:
        raise InfraError(f"cannot delete them on {bootstrap}: {err}") from err
    finally:
        admin.close()
