"""The broker's classpath: Kafka's jars resolved from Maven Central once, then kept in the cache."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from infra.errors import BrokerError
from infra.settings import Settings

__all__ = ["LOG4J_VERSION", "Say", "quiet", "jar_dir", "resolve_jars"]

LOG4J_VERSION = "2.25.5"  # the log4j-api/core the pinned kafka_2.13 already depends on
_POM_TEMPLATE = Path(__file__).with_name("broker-pom.xml")

#: Where progress goes (a console line), or nowhere (`quiet`).
Say = Callable[[str], None]


def quiet(_: str) -> None:
    return None


def jar_dir(settings: Settings) -> Path:
    return settings.cache_dir / f"kafka-{settings.kafka_version}" / "libs"


def resolve_jars(settings: Settings, say: Say = quiet) -> Path:
    """Download the broker's classpath with Maven once; later calls need no network."""
    libs = jar_dir(settings)
    marker = libs.parent / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise BrokerError(
            "Maven (`mvn`) is not on PATH; it is needed once to fetch the broker jars"
        )
    libs.parent.mkdir(parents=True, exist_ok=True)
    pom = libs.parent / "pom.xml"
    pom.write_text(
        _POM_TEMPLATE.read_text(encoding="utf-8")
        .replace("@KAFKA_VERSION@", settings.kafka_version)
        .replace("@LOG4J_VERSION@", LOG4J_VERSION),
        encoding="utf-8",
    )
    log = libs.parent / "maven.log"
    say(f"resolving Kafka {settings.kafka_version} jars from Maven Central (log: {log})")
    staging = libs.parent / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    with log.open("wb") as out:
        result = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        raise BrokerError(
            f"Maven could not resolve org.apache.kafka:kafka_2.13:{settings.kafka_version} "
            f"(exit {result.returncode}); see {log}"
        )
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    marker.write_text(settings.kafka_version, encoding="utf-8")
    return libs
