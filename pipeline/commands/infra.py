"""`arrears infra up | down | status`: the local broker and the declared topics."""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from infra.admin import bootstrap_servers, cluster_status, ensure_topics
from infra.broker import LocalBroker
from infra.errors import InfraError
from infra.settings import Settings
from pipeline.errors import CliError

console = Console(stderr=False)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "infra",
        help="start, stop and inspect the local Kafka broker and the declared topics",
        description=(
            "Run a local Apache Kafka broker (KRaft, loopback, jars from Maven Central, "
            "cached per user) and create the topics declared in infra/topics.py. "
            "Set ARREARS_BOOTSTRAP_SERVERS (or [kafka] bootstrap_servers in arrears.toml) "
            "to use an existing cluster instead: then nothing is started and `up` only "
            "creates and checks the topics."
        ),
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start the broker (if not running) and create/check topics")
    up.set_defaults(func=run_up)
    down = actions.add_parser("down", help="stop the local broker, leaving no process behind")
    down.add_argument("--purge", action="store_true", help="also delete the broker's data")
    down.set_defaults(func=run_down)
    status = actions.add_parser("status", help="broker version, topics with end offsets, group lag")
    status.set_defaults(func=run_status)


def _say(message: str) -> None:
    console.print(f"[dim]{message}[/dim]")


def run_up(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    started = time.monotonic()
    try:
        if settings.external:
            bootstrap = settings.bootstrap_servers
            console.print(f"using the existing cluster at {bootstrap} (nothing started)")
        else:
            broker = LocalBroker(settings)
            running = broker.info()
            if running is not None:
                console.print(f"broker already running at {running.bootstrap} (pid {running.pid})")
                bootstrap = running.bootstrap
            else:
                info = broker.start(say=_say)
                console.print(
                    f"broker Kafka {info.version} up at {info.bootstrap} (pid {info.pid}, "
                    f"log {info.log}) in {time.monotonic() - started:.1f}s"
                )
                bootstrap = info.bootstrap
        created = ensure_topics(bootstrap, settings)
    except InfraError as err:
        raise CliError(str(err)) from err
    if created:
        console.print(f"created topics: {', '.join(created)}")
    console.print("topics match the declaration")
    return 0


def run_down(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.external:
        console.print("pointed at an existing cluster (ARREARS_BOOTSTRAP_SERVERS): nothing to stop")
        return 0
    broker = LocalBroker(settings)
    stopped = broker.stop()
    if args.purge:
        broker.destroy()
    console.print("broker stopped" if stopped else "no local broker was running")
    if args.purge:
        console.print(f"deleted broker data in {broker.dir}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        bootstrap = bootstrap_servers(settings)
        if settings.external:
            version = "external cluster"
        else:
            info = LocalBroker(settings).info()
            version = f"Apache Kafka {info.version} (local, KRaft, pid {info.pid})" if info else "?"
        status = cluster_status(bootstrap, settings, version)
    except InfraError as err:
        raise CliError(str(err)) from err
    console.print(f"broker: {status.version} at {status.bootstrap}")
    topics = Table(title="topics")
    for col in ("topic", "declared", "partitions", "end offsets (per partition)", "messages"):
        topics.add_column(col)
    for t in status.topics:
        offsets = " ".join(f"{p}:{o}" for p, o in sorted(t.end_offsets.items()))
        topics.add_row(
            t.name, "yes" if t.declared else "", str(t.partitions), offsets, str(t.messages)
        )
    console.print(topics)
    if status.missing:
        console.print(
            f"[yellow]declared but missing: {', '.join(status.missing)} "
            "(run `arrears infra up`)[/yellow]"
        )
    groups = Table(title="consumer groups")
    for col in ("group", "state", "lag by topic", "total lag"):
        groups.add_column(col)
    for g in status.groups:
        lag = ", ".join(f"{t}={n}" for t, n in sorted(g.lag.items()))
        groups.add_row(g.group, g.state, lag, str(g.total_lag))
    console.print(groups if status.groups else "consumer groups: none")
    return 0
