"""`arrears ingest FILE... | -`: validate JSON Lines and produce them to Kafka."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.errors import ContractError
from contracts.registry import Registry
from infra.admin import bootstrap_servers
from infra.errors import InfraError
from infra.producer import make_producer
from infra.settings import Settings
from infra.topics import SOURCES, dead_letter_topic, source_topic
from pipeline.errors import CliError, ExitCode
from pipeline.ingest import (
    Ingest,
    KafkaSink,
    ProduceError,
    Summary,
    ValidatorDied,
    default_validators,
    known_event,
)
from pipeline.ingest.deadletters import DeadLetterError, read_to_end
from pipeline.ingest.hints import read_head
from pipeline.output import add_json, add_quiet, print_json

STDIN = "-"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ingest",
        help="validate JSON Lines event files and produce them to the source topics",
        description=(
            "Read each FILE (or standard input for `-`) line by line, validate every line "
            "against the event contracts, produce good events to their source "
            "topic keyed by unit, and send every rejected line to the dead-letter topic with "
            "its original bytes, file, line and reason. Duplicates in the input (same "
            "event_id, same content) are skipped; the same event_id with different content "
            "and no supersedes is dead-lettered as a conflict.\n\n"
            "Re-ingesting a file is safe: its events are sent again, and the streams drop "
            "them by event_id; its dead letters get the same ids and show once. Rejected "
            "lines are listed by `arrears deadletters list`.\n\n"
            "Before anything is sent, the start of every input is read: a JSON file (first "
            "character `[`, or a first record over several lines) is refused with how to "
            "convert it (`jq -c '.[]'`, exit 2); an empty input is a warning."
        ),
        codes=(ExitCode.REJECTED,),
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="JSON Lines files (UTF-8); `-` reads standard input",
    )
    parser.add_argument(
        "--units",
        metavar="PATH",
        help="unit registry TOML (default: the shipped contracts/units.toml)",
    )
    parser.add_argument(
        "--skip-known",
        action="store_true",
        help="first read the event ids already in the source topics and skip "
        "those events (counted as duplicates; other content under a known "
        "id is a conflict); costs one read of the source topics",
    )
    parser.add_argument(
        "--validators",
        type=int,
        metavar="N",
        default=None,
        help="validate in N separate processes while this one produces "
        "(default: one per core beyond the first; 0 validates in-process)",
    )
    add_quiet(parser)
    add_json(parser, "the summary, as --summary-json writes it")
    parser.add_argument(
        "--summary-json",
        metavar="FILE",
        type=Path,
        help="also write the summary (accepted by source, duplicates, rejected "
        "by reason) as JSON, for scripts",
    )
    parser.set_defaults(func=run)


Input = tuple[str, Iterable[bytes], int | None]


def _open_all(files: list[str], stack: ExitStack) -> list[Input]:
    """Open every input and read its start before sending anything, so a typo or a JSON
    file fails the run up front (`pipeline.ingest.hints`)."""
    if files.count(STDIN) > 1:
        raise CliError("`-` (standard input) can be given once", 2)
    opened: list[Input] = []
    problems: list[str] = []
    not_lines: list[str] = []
    for name in files:
        if name == STDIN:
            name, handle, size = "<stdin>", sys.stdin.buffer, None
        else:
            try:
                handle = stack.enter_context(open(name, "rb"))  # noqa: SIM115 - closed by the stack
            except OSError as err:
                problems.append(f"{name}: {err.strerror or err}")
                continue
            size = os.fstat(handle.fileno()).st_size or None
        try:
            head = read_head(name, handle)
        except OSError as err:
            problems.append(f"{name}: {err.strerror or err}")
            continue
        if head.problem is not None:
            not_lines.append(head.problem)
        opened.append((name, head.then(handle), size))
    if problems:
        raise CliError("cannot read " + "; ".join(problems) + " (nothing was sent)")
    if not_lines:
        raise CliError("\n".join(not_lines) + "\n(nothing was sent)", ExitCode.USAGE)
    return opened


def run(args: argparse.Namespace) -> int:
    stderr = Console(stderr=True)
    out = Console()
    try:
        registry = Registry.load(args.units)
    except (OSError, ContractError) as err:
        raise CliError(f"cannot load the unit registry: {err}") from err
    with ExitStack() as stack:
        inputs = _open_all(args.files, stack)
        try:
            settings = Settings.from_env()
            bootstrap = bootstrap_servers(settings)
            producer = make_producer(bootstrap)
        except InfraError as err:
            raise CliError(str(err)) from err
        except KafkaError as err:
            raise CliError(
                f"cannot reach Kafka at {bootstrap} ({err}); is the broker up? "
                "(`arrears infra status`); nothing was sent"
            ) from err
        sink = KafkaSink(producer)
        validators = default_validators() if args.validators is None else args.validators
        if validators < 0:
            raise CliError(f"--validators must be 0 or more, got {validators}", 2)
        ingest = stack.enter_context(Ingest(registry, settings, sink, validators=validators))
        if args.skip_known:
            try:
                _remember_known(ingest, bootstrap, settings, stderr)
            except (DeadLetterError, KafkaError) as err:
                sink.abort()
                raise CliError(f"cannot read the source topics for --skip-known: {err}") from err
        started = time.monotonic()
        where = "(before the first line)"
        try:
            with _progress(stderr, args.quiet) as progress:
                for name, handle, size in inputs:
                    where = f"in {name}"
                    ingest.feed(name, handle, progress.start(name, size))
            if not args.quiet:
                stderr.print(f"[dim]waiting for Kafka to acknowledge {sink.sent} records...[/dim]")
            sink.close()
        except (ProduceError, KafkaError) as err:
            sink.abort()
            raise CliError(
                f"{err}; stopped {where} after {ingest.summary.lines:,} lines in all. Re-run the "
                "same command with --skip-known once Kafka is back: events already sent are "
                "skipped by event_id, dead letters keep their ids"
            ) from err
        except ValidatorDied as err:
            sink.abort()
            raise CliError(
                f"{err}; stopped {where} after {ingest.summary.lines:,} lines in all, "
                f"{sink.sent:,} records handed to Kafka. Re-run the same command with "
                "--skip-known (or with --validators 0, validating in this process): events "
                "already sent are skipped by event_id, dead letters keep their ids"
            ) from err
    elapsed = time.monotonic() - started
    if args.json:
        print_json(ingest.summary.as_dict())
    else:
        _print_summary(out, ingest.summary, elapsed, dead_letter_topic(settings))
    for name in ingest.summary.empty:
        stderr.print(
            f"[yellow]warning:[/yellow] {name} is empty (no records, only blank lines or "
            "none): nothing was sent from it; was it the file you meant?",
            highlight=False,
            soft_wrap=True,
        )
    if args.summary_json is not None:
        args.summary_json.write_text(
            json.dumps(ingest.summary.as_dict(), indent=2), encoding="utf-8"
        )
    return ingest.summary.exit_code


def _remember_known(ingest: Ingest, bootstrap: str, settings: Settings, console: Console) -> None:
    """Seed the duplicate check with every event already in the source topics."""
    topics = [source_topic(settings, source) for source in SOURCES]
    with console.status("reading the event ids already in the source topics..."):
        for record in read_to_end(bootstrap, topics):
            known = known_event(record.value)
            if known is not None:  # else not an event this check can match: the streams
                ingest.remember(*known)  # dead-letter it
    console.print(f"[dim]{ingest.remembered:,} event ids already in Kafka[/dim]")


class _progress:
    """A rich progress bar on stderr per file: bytes when the size is known, lines and lines/s."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[lines]:>10,} lines"),
            TextColumn("{task.fields[rate]:>8,.0f} lines/s"),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
            transient=False,
        )

    def __enter__(self) -> _progress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def start(self, name: str, size: int | None) -> Callable[[int, int], None]:
        task: TaskID = self.bar.add_task(name, total=size, lines=0, rate=0.0)
        began = time.monotonic()

        def update(lines: int, consumed: int) -> None:
            rate = lines / max(time.monotonic() - began, 1e-6)
            self.bar.update(task, completed=consumed, lines=lines, rate=rate)

        return update


def _print_summary(console: Console, summary: Summary, elapsed: float, dlq: str) -> None:
    rate = summary.lines / elapsed if elapsed > 0 else 0.0
    table = Table(title=f"ingest: {summary.lines:,} lines in {elapsed:.1f}s ({rate:,.0f} lines/s)")
    table.add_column("outcome")
    table.add_column("records", justify="right")
    for source, n in sorted(summary.accepted.items()):
        table.add_row(f"accepted: {source}", f"{n:,}")
    table.add_row("[bold]accepted[/bold]", f"[bold]{summary.accepted_total:,}[/bold]")
    table.add_row("duplicates skipped (same event_id, same content)", f"{summary.duplicates:,}")
    if summary.blank:
        table.add_row("blank lines skipped", f"{summary.blank:,}")
    table.add_row("[bold]rejected[/bold]", f"[bold]{summary.rejected_total:,}[/bold]")
    console.print(table)
    if summary.rejected:
        reasons = Table(title=f"rejected by reason (dead letters in {dlq})")
        reasons.add_column("reason")
        reasons.add_column("lines", justify="right")
        for reason, n in summary.rejected.most_common():
            reasons.add_row(reason, f"{n:,}")
        console.print(reasons)
        console.print(
            "see them with `arrears deadletters list`; fix them with "
            "`arrears deadletters export` and `arrears deadletters resubmit`"
        )
