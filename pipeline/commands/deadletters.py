"""`arrears deadletters list | export | resubmit | dismiss`: see, fix, re-submit or close
rejected records."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from kafka.errors import KafkaError
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from contracts.clock import CST
from contracts.deadletter import record_json
from contracts.errors import ContractError
from contracts.registry import Registry
from infra.admin import bootstrap_servers
from infra.errors import InfraError
from infra.producer import make_producer
from infra.settings import Settings
from infra.topics import dead_letter_status_topic
from pipeline.errors import CliError, ExitCode
from pipeline.ingest.deadletters import (
    STATUSES,
    DeadLetter,
    DeadLetterError,
    load,
    plan_dismiss,
    select,
)
from pipeline.ingest.resubmit import export_line, plan_resubmit
from pipeline.ingest.sink import KafkaSink, ProduceError
from pipeline.output import add_json, print_json, table_box


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "deadletters",
        help="list, export and re-submit rejected records (dead letters)",
        description=(
            "Every record ingest rejects goes to the dead-letter topic with its original "
            "bytes, file, line and reason. `list` shows them, `export` writes a JSON Lines "
            "file to fix by hand, `resubmit` validates the fixed records, produces the good "
            "ones to their source topic and marks their dead letters resolved (never deleted)."
        ),
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--status", choices=STATUSES, default="open", help="which dead letters (default: open)"
        )
        p.add_argument("--reason", metavar="R", help="only this reason code, e.g. uscc.check_char")
        p.add_argument("--file", metavar="F", help="only lines from this file (name or base name)")

    ls = actions.add_parser("list", help="a table of dead letters: id, file:line, reason, message")
    filters(ls)
    ls.add_argument(
        "--limit",
        type=_positive,
        default=50,
        metavar="N",
        help="show at most N rows (default 50; the counts cover all)",
    )
    add_json(ls, "the counts and the letters shown, every field")
    ls.set_defaults(func=run_list)

    ex = actions.add_parser("export", help="write dead letters as JSON Lines to fix and resubmit")
    filters(ex)
    ex.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    ex.set_defaults(func=run_export)

    re = actions.add_parser(
        "resubmit",
        help="validate fixed records from an export file and produce them",
        description=(
            "Read a file written by `deadletters export` (after fixing its `record`s), "
            "validate each record again, produce the good ones to their source topic and mark "
            "their dead letters resolved. Records still bad are listed and stay open (no new "
            "dead letter). Dead letters already resolved are skipped, so running it twice "
            "counts each record once."
        ),
        codes=(ExitCode.REJECTED,),
    )
    re.add_argument("file", metavar="FILE", help="the edited export file; `-` for standard input")
    re.add_argument(
        "--units",
        metavar="PATH",
        help="unit registry TOML (default: the shipped contracts/units.toml)",
    )
    re.set_defaults(func=run_resubmit)

    dis = actions.add_parser(
        "dismiss",
        help="close dead letters that can never be fixed, with a reason (never deleted)",
        description=(
            "Mark open dead letters dismissed on the status topic, with who, when and why "
            "(the source system confirms the record was junk, ...). Dismissed letters stay "
            "listed (`list --status dismissed`, the verdict page) and no longer count toward "
            "the quality gate's thresholds. Resolved or dismissed ones are left as they are."
        ),
    )
    dis.add_argument("ids", nargs="+", metavar="ID", help="dead-letter ids (from `list`)")
    dis.add_argument("--reason", required=True, metavar="TEXT", help="why it cannot be fixed")
    dis.add_argument("--by", metavar="WHO", help="who dismisses (default: the login name)")
    dis.set_defaults(func=run_dismiss)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _load() -> tuple[Settings, str, list[DeadLetter]]:
    try:
        settings = Settings.from_env()
        bootstrap = bootstrap_servers(settings)
        letters, unreadable = load(bootstrap, settings)
    except (InfraError, DeadLetterError) as err:
        raise CliError(str(err)) from err
    except KafkaError as err:
        raise CliError(f"cannot read the dead-letter topics: {err!r}") from err
    if unreadable:
        Console(stderr=True).print(
            f"[yellow]{unreadable} dead-letter or status records could "
            "not be read (not JSON objects with an id)[/yellow]"
        )
    return settings, bootstrap, letters


def _select(args: argparse.Namespace, letters: list[DeadLetter]) -> list[DeadLetter]:
    return select(letters, status=args.status, reason=args.reason, file=args.file)


#: Narrower than this, each dead letter is a line (id, where, reason, status) with its
#: message below it, instead of a table row whose message column would be a sliver.
_TABLE_WIDTH = 140


def _status_text(letter: DeadLetter) -> str:
    return {
        "open": "open",
        "resolved": f"resolved -> {letter.event_id}",
        "dismissed": f"dismissed by {letter.dismissed_by}: {letter.dismissal}",
    }.get(letter.status, letter.status)


def run_list(args: argparse.Namespace) -> int:
    console = Console()
    _, _, letters = _load()
    chosen = _select(args, letters)
    shown = chosen[: args.limit]
    by_status = Counter(letter.status for letter in letters)
    if args.json:
        print_json(
            {
                "status": args.status,
                "matched": len(chosen),
                "shown": len(shown),
                "counts": {s: by_status[s] for s in ("open", "resolved", "dismissed")},
                "letters": [_as_json(letter) for letter in shown],
            }
        )
        return 0
    if console.width >= _TABLE_WIDTH:
        table = Table(title=f"dead letters ({args.status})", box=table_box(console))
        table.add_column("id", no_wrap=True)
        table.add_column("file:line", overflow="fold")
        table.add_column("reason", no_wrap=True)
        table.add_column("message", overflow="fold", ratio=1)
        table.add_column("status", overflow="fold")
        for letter in shown:
            table.add_row(
                letter.id, letter.where, letter.reason, letter.message, _status_text(letter)
            )
        console.print(table)
    else:
        console.print(f"dead letters ({args.status})", style="italic")
        for letter in shown:
            head = Text.assemble(
                (letter.id, "bold"), "  ", letter.where, "  ", (letter.reason, "cyan")
            )
            if letter.status != "open":
                head.append(f"  {_status_text(letter)}")
            console.print(head, overflow="fold")
            console.print(Padding(Text(letter.message), (0, 0, 0, 4)), overflow="fold")
    if len(chosen) > args.limit:
        console.print(f"showing {args.limit} of {len(chosen)}; use --limit to see more")
    console.print(
        f"{len(chosen)} match the filters; in all {by_status['open']} open, "
        f"{by_status['resolved']} resolved, {by_status['dismissed']} dismissed"
    )
    return 0


def _as_json(letter: DeadLetter) -> dict[str, object]:
    """A dead letter as `deadletters list --json` prints it: every field but the original
    record (`deadletters export` writes that)."""
    return {
        "id": letter.id,
        "file": letter.file,
        "line": letter.line,
        "reason": letter.reason,
        "message": letter.message,
        "field": letter.field,
        "rejected_at": letter.rejected_at,
        "origin": letter.origin,
        "status": letter.status,
        "event_id": letter.event_id,
        "resolved_at": letter.resolved_at,
        "dismissed_by": letter.dismissed_by,
        "dismissed_at": letter.dismissed_at,
        "dismissal": letter.dismissal,
    }


@contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as err:
        raise CliError(f"cannot write {path}: {err.strerror or err}") from err
    with handle:
        yield handle


def run_export(args: argparse.Namespace) -> int:
    _, _, letters = _load()
    chosen = _select(args, letters)
    with _output(args.out) as out:
        for letter in chosen:
            out.write(record_json(export_line(letter)) + "\n")
    if args.out:
        Console(stderr=True).print(
            f"wrote {len(chosen)} dead letters to {args.out}; fix each `record`, then run "
            f"`arrears deadletters resubmit {args.out}`"
        )
    return 0


def run_resubmit(args: argparse.Namespace) -> int:
    console = Console()
    try:
        registry = Registry.load(args.units)
    except (OSError, ContractError) as err:
        raise CliError(f"cannot load the unit registry: {err}") from err
    try:
        lines = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as err:
        raise CliError(f"cannot read {args.file}: {err.strerror or err}") from err
    settings, bootstrap, letters = _load()
    plan = plan_resubmit(lines.splitlines(), {dl.id: dl for dl in letters}, registry, settings)
    if plan.events:
        try:
            sink = KafkaSink(make_producer(bootstrap, client_id="arrears-resubmit"))
        except KafkaError as err:
            raise CliError(
                f"cannot reach Kafka at {bootstrap} ({err}); nothing was resubmitted"
            ) from err
        try:
            # Events first; only once Kafka has them are the dead letters marked resolved.
            for topic, key, value, headers in plan.events:
                sink.send(topic, key, value, headers)
            sink.flush()
            status_topic = dead_letter_status_topic(settings)
            for key, value in plan.marks:
                sink.send(status_topic, key, value, [])
            sink.close()
        except ProduceError as err:
            sink.abort()
            raise CliError(
                f"{err}; run resubmit again: events resent with the same event_id "
                "are dropped by the streams"
            ) from err
    for dl_id, event_id in plan.resolved:
        console.print(f"resubmitted {dl_id} as event {event_id}: marked resolved")
    for dl_id in plan.skipped:
        console.print(f"skipped {dl_id}: already resolved")
    if plan.still_bad:
        table = Table(title="still rejected (their dead letters stay open)")
        for col in ("line", "dead letter", "reason", "message"):
            table.add_column(col, overflow="fold")
        for number, letter_id, reason, message in plan.still_bad:
            table.add_row(str(number), letter_id or "-", reason, message)
        console.print(table)
    console.print(
        f"{len(plan.resolved)} resubmitted, {len(plan.skipped)} already resolved, "
        f"{len(plan.still_bad)} still bad"
    )
    return plan.exit_code


def run_dismiss(args: argparse.Namespace) -> int:
    console = Console()
    settings, bootstrap, letters = _load()
    who = args.by or getpass.getuser()
    now = dt.datetime.now(CST).isoformat(timespec="seconds")
    try:
        plan = plan_dismiss(
            args.ids, {dl.id: dl for dl in letters}, by=who, why=args.reason, at=now
        )
    except ValueError as err:
        raise CliError(str(err), exit_code=ExitCode.USAGE) from err
    if plan.unknown:
        raise CliError(
            f"no dead letter with id {', '.join(plan.unknown)}; nothing was dismissed "
            "(see `arrears deadletters list --status all`)",
            exit_code=ExitCode.USAGE,
        )
    if plan.marks:
        try:
            sink = KafkaSink(make_producer(bootstrap, client_id="arrears-dismiss"))
            for key, value in plan.marks:
                sink.send(dead_letter_status_topic(settings), key, value, [])
            sink.close()
        except (KafkaError, ProduceError) as err:
            raise CliError(f"cannot write the dismissal marks ({err}); run it again") from err
    for dl_id in plan.dismissed:
        console.print(f"dismissed {dl_id} by {who}: {args.reason.strip()}")
    for dl_id, status in plan.skipped:
        console.print(f"skipped {dl_id}: already {status}")
    console.print(f"{len(plan.dismissed)} dismissed, {len(plan.skipped)} skipped")
    return 0
