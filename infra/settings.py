"""Connection settings: where the broker is, how topics are replicated, where state lives."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from infra.errors import InfraError

#: The broker version the integration tests pass against with both kafka-python
#: 3.0.12 and aiokafka 0.14.0 (faust-streaming's client).
KAFKA_VERSION = "4.4.0"

CONFIG_ENV = "ARREARS_CONFIG"
DEFAULT_CONFIG = "arrears.toml"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "arrears"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "arrears"


@dataclass(frozen=True)
class Settings:
    """Everything that differs between a laptop and a real cluster.

    Precedence: environment variable, then the `[kafka]`/`[paths]` tables of the
    config file (`$ARREARS_CONFIG`, else `./arrears.toml` when present), then defaults.

    >>> Settings(bootstrap_servers="10.0.0.5:9092").external
    True
    """

    #: Set to use an existing cluster; empty means "the local broker `infra up` runs".
    bootstrap_servers: str = ""
    replication_factor: int = 1
    min_insync_replicas: int = 1
    partitions: int = 6
    topic_prefix: str = "arrears."
    state_dir: Path = field(default_factory=_default_state_dir)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    kafka_version: str = KAFKA_VERSION
    broker_heap: str = "512m"

    @property
    def external(self) -> bool:
        """True when pointed at an existing cluster: nothing local is started."""
        return bool(self.bootstrap_servers)

    @property
    def broker_dir(self) -> Path:
        return self.state_dir / "broker"

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables, for a child process (a worker)."""
        return {
            "ARREARS_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "ARREARS_REPLICATION_FACTOR": str(self.replication_factor),
            "ARREARS_MIN_INSYNC_REPLICAS": str(self.min_insync_replicas),
            "ARREARS_PARTITIONS": str(self.partitions),
            "ARREARS_TOPIC_PREFIX": self.topic_prefix,
            "ARREARS_STATE_DIR": str(self.state_dir),
            "ARREARS_CACHE_DIR": str(self.cache_dir),
        }

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        file_values = _read_config(env)
        defaults = cls()

        def pick(name: str, env_name: str, default: object) -> object:
            if env_name in env and env[env_name] != "":
                return env[env_name]
            return file_values.get(name, default)

        try:
            return cls(
                bootstrap_servers=str(pick("bootstrap_servers", "ARREARS_BOOTSTRAP_SERVERS", "")),
                replication_factor=int(
                    pick("replication_factor", "ARREARS_REPLICATION_FACTOR", 1)  # type: ignore[call-overload]
                ),
                min_insync_replicas=int(
                    pick("min_insync_replicas", "ARREARS_MIN_INSYNC_REPLICAS", 1)  # type: ignore[call-overload]
                ),
                partitions=int(pick("partitions", "ARREARS_PARTITIONS", 6)),  # type: ignore[call-overload]
                topic_prefix=str(pick("topic_prefix", "ARREARS_TOPIC_PREFIX", "arrears.")),
                state_dir=Path(str(pick("state_dir", "ARREARS_STATE_DIR", defaults.state_dir))),
                cache_dir=Path(str(pick("cache_dir", "ARREARS_CACHE_DIR", defaults.cache_dir))),
            )
        except ValueError as err:
            raise InfraError(
                f"bad setting: {err}; replication factor, min in-sync replicas and partitions "
                "must be whole numbers (ARREARS_REPLICATION_FACTOR, ARREARS_MIN_INSYNC_REPLICAS, "
                "ARREARS_PARTITIONS)"
            ) from err


def _read_config(env: dict[str, str]) -> dict[str, object]:
    path = Path(env.get(CONFIG_ENV) or DEFAULT_CONFIG)
    if not path.exists():
        if CONFIG_ENV in env:
            raise InfraError(f"config file {path} (from ${CONFIG_ENV}) does not exist")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise InfraError(f"config file {path} is not valid TOML: {err}") from err
    values: dict[str, object] = {}
    for table in ("kafka", "paths"):
        section = data.get(table, {})
        if isinstance(section, dict):
            values.update(section)
    return values
