"""`arrears infra up | down | status`: the local broker and the declared topics."""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console
from rich.table import Table

from infra.admin import (
    bootstrap_servers,
    cluster_status,
    delete_prefixed,
    ensure_topics,
    prefixed,
)
from infra.broker import LocalBroker
from infra.errors import InfraError
from infra.settings import Settings
from pipeline.errors import CliError, ExitCode
from pipeline.output import add_json, print_json, table_box

console = Console(stderr=False)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "infra",
        help="start, stop and inspect the local Kafka broker and the declared topics",
        description=(
            "Run a local Apache Kafka broker (KRaft, loopback, jars from Maven Central, "
            "cached per user) and create the project's topics. "
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
    add_json(status, "the broker, every topic and consumer group")
    status.set_defaults(func=run_status)
    clean = actions.add_parser(
        "clean",
        help="delete the topics and consumer groups of one run (a demo's), after asking",
        description=(
            "Delete every topic and consumer group whose name starts with PREFIX: what "
            "`arrears demo` leaves on the broker (its summary names the prefix, e.g. "
            "demo-20241231-1730-). Lists them and asks first; --yes does not ask (needed "
            "off a terminal)."
        ),
    )
    clean.add_argument("--prefix", required=True, metavar="PREFIX", help="the run's prefix")
    clean.add_argument("--yes", action="store_true", help="delete without asking")
    clean.set_defaults(func=run_clean)


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
    if args.json:
        print_json(
            {
                "broker": {"version": status.version, "bootstrap": status.bootstrap},
                "topics": [
                    {
                        "name": t.name,
                        "declared": t.declared,
                        "partitions": t.partitions,
                        "end_offsets": {str(p): o for p, o in sorted(t.end_offsets.items())},
                        "messages": t.messages,
                    }
                    for t in status.topics
                ],
                "missing": status.missing,
                "groups": [
                    {"group": g.group, "state": g.state, "lag": g.lag, "total_lag": g.total_lag}
                    for g in status.groups
                ],
            }
        )
        return 0
    console.print(f"broker: {status.version} at {status.bootstrap}", soft_wrap=False)
    # Every cell folds rather than being cut: a topic name is never shortened to "…".
    # When every name carries the run's prefix, say it once in the titles, not on every row.
    prefix = settings.topic_prefix
    names = [t.name for t in status.topics] + [g.group for g in status.groups]
    if not (prefix and names and all(n.startswith(prefix) for n in names)):
        prefix = ""
    after = f" (names after {prefix})" if prefix else ""

    def short(name: str) -> str:
        return name[len(prefix) :]

    topics = Table(title=f"topics{after}", box=table_box(console))
    topics.add_column("topic", overflow="fold", ratio=3)
    topics.add_column("declared", overflow="fold")
    topics.add_column("partitions", overflow="fold", justify="right")
    topics.add_column("end offsets (per partition)", overflow="fold", ratio=2)
    topics.add_column("messages", overflow="fold", justify="right")
    for t in status.topics:
        offsets = " ".join(f"{p}:{o}" for p, o in sorted(t.end_offsets.items()))
        topics.add_row(
            short(t.name), "yes" if t.declared else "", str(t.partitions), offsets, str(t.messages)
        )
    console.print(topics)
    if status.missing:
        console.print(
            f"[yellow]declared but missing: {', '.join(status.missing)} "
            "(run `arrears infra up`)[/yellow]"
        )
    groups = Table(title=f"consumer groups{after}", box=table_box(console))
    groups.add_column("group", overflow="fold", ratio=2)
    groups.add_column("state", overflow="fold")
    groups.add_column("lag by topic", overflow="fold", ratio=3)
    groups.add_column("total lag", overflow="fold", justify="right")
    for g in status.groups:
        lag = ", ".join(
            f"{short(t) if t.startswith(prefix) else t}={n}" for t, n in sorted(g.lag.items())
        )
        groups.add_row(short(g.group), g.state, lag, str(g.total_lag))
    console.print(groups if status.groups else "consumer groups: none")
    return 0


def run_clean(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        bootstrap = bootstrap_servers(settings)
        topics, groups = prefixed(bootstrap, args.prefix)
    except InfraError as err:
        raise CliError(str(err), ExitCode.USAGE if not args.prefix else ExitCode.FAILURE) from err
    if not topics and not groups:
        console.print(f"nothing on {bootstrap} starts with {args.prefix!r}")
        return 0
    console.print(f"on {bootstrap}, starting with {args.prefix!r}:")
    for name in topics:
        console.print(f"  topic {name}", highlight=False)
    for name in groups:
        console.print(f"  consumer group {name}", highlight=False)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(
                "not deleting without a yes: run it in a terminal, or add --yes", ExitCode.USAGE
            )
        answer = input(f"delete these {len(topics)} topics and {len(groups)} groups? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            console.print("nothing deleted")
            return 0
    try:
        delete_prefixed(bootstrap, topics, groups)
    except InfraError as err:
        raise CliError(str(err)) from err
    console.print(f"deleted {len(topics)} topics and {len(groups)} consumer groups")
    return 0
