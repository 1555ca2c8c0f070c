"""`arrears worker`: a Faust worker keeping the running tallies; several share the partitions."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.admin import bootstrap_servers, ensure_topics
from infra.errors import InfraError
from infra.settings import Settings
from infra.topics import SOURCES, source_topic
from pipeline.errors import CliError, ExitCode
from pipeline.flows.worker_status import StatusLine
from pipeline.help import for_stream
from pipeline.output import add_quiet
from streams.errors import StreamsError
from streams.trace import trace_to


def register(sub: Any) -> None:
    p = sub.add_parser(
        "worker",
        help="run a stream worker: running tallies and the live form over HTTP",
        description=(
            "Consume the four source topics, validate again (bad records go to the dead-letter "
            "topic), keep the campaign tallies in changelog-backed tables and serve them as JSON "
            "(GET /form/<unit>/?cutoff=2024-12-31, /own/, /status/). Start several to share the "
            "partitions; stop with Ctrl-C or SIGTERM. A killed worker loses nothing: restart it."
        ),
    )
    p.add_argument(
        "--web-port",
        type=int,
        metavar="N",
        help="HTTP port of the live form (default: a free port, registered in the "
        "state directory so `arrears form` finds it)",
    )
    p.add_argument("--worker-id", metavar="ID", help="name of this worker (default: <host>-<pid>)")
    p.add_argument(
        "--loglevel",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="Faust log level",
    )
    p.add_argument(
        "--trace",
        type=Path,
        metavar="FILE",
        help="append a diagnostics trace to FILE: one JSON line per chunk applied (its "
        "offsets and their status) and per rebalance step (logger arrears.streams.trace)",
    )
    p.add_argument(
        "--status-every",
        type=float,
        default=10.0,
        metavar="S",
        help="print a status line every S seconds on standard error: partitions owned, events "
        "applied, lag per topic, last commit (0: only at the end)",
    )
    add_quiet(p)
    p.set_defaults(func=run)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Set in the environment of a worker that started itself again (`_start_again`): the
#: number of times in a row, for the back-off.
RESTARTED = "ARREARS_WORKER_RESTARTED"
#: Seconds between attempts to reach the broker, at most.
MAX_BACKOFF_S = 10.0
_STARTED = time.monotonic()


def _exit_on_sigterm() -> None:
    """While waiting (no events in hand, nothing to commit), SIGTERM or Ctrl-C stop at once."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))


#: Set once the worker is asked to stop: a fatal error then ends it instead of a restart.
_STOPPING = threading.Event()


def _lost_the_broker(exc: BaseException) -> bool:
    """Kafka's or the network's errors (and a recovery that made no progress): the broker
    went away. Anything else is a bug, which a restart would only repeat."""
    from aiokafka.errors import KafkaError

    from streams.ownership import RecoveryStalled

    return isinstance(exc, KafkaError | OSError | TimeoutError | RecoveryStalled)


def _start_again(exc: BaseException) -> None:
    """What a worker does when its changelog or offsets can no longer be written (the broker
    went away mid-transaction): start again as a new process, like a restart after kill -9
    (the tested path: nothing is lost, nothing counted twice). Same pid, same arguments;
    the new process waits for the broker and rebuilds its partitions from the changelog.
    Any other fatal error, or one while stopping, ends the worker (status 70, or 0 when
    asked to stop), like kill -9."""
    if _STOPPING.is_set() or not _lost_the_broker(exc):
        print(f"worker: stopping on {exc!r}", file=sys.stderr, flush=True)
        logging.shutdown()
        os._exit(0 if _STOPPING.is_set() else 70)
    _exit_on_sigterm()
    # a worker that ran a while before losing the broker starts the back-off afresh
    ran_a_while = time.monotonic() - _STARTED > 60
    attempt = 1 if ran_a_while else int(os.environ.get(RESTARTED, "0")) + 1
    pause = min(MAX_BACKOFF_S, 0.5 * 2 ** min(attempt, 5))
    print(
        f"worker: lost the broker ({exc!r}); starting again in {pause:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    logging.shutdown()
    time.sleep(pause)
    os.environ[RESTARTED] = str(attempt)
    try:
        os.execv(sys.executable, [sys.executable, "-m", "pipeline.cli", *sys.argv[1:]])
    except OSError as err:
        print(f"worker: cannot start again ({err})", file=sys.stderr, flush=True)
        os._exit(70)


#: Seconds a graceful stop may take (committing the changelog, leaving the group) before
#: the worker exits anyway: with the broker down it would wait for minutes, and an exit
#: without a commit is a kill -9, which loses nothing.
STOP_DEADLINE_S = 8.0


def _force_exit(worker: Any) -> None:
    crashed = getattr(worker, "crash_reason", None) is not None
    print(
        f"worker: the graceful stop took over {STOP_DEADLINE_S:.0f} s (is the broker down?); "
        "exiting without it: the next start rebuilds from the changelog",
        file=sys.stderr,
        flush=True,
    )
    os._exit(1 if crashed else 0)  # a stop after a crash stays a failure


def worker_class(faust: Any) -> Any:
    """faust.Worker whose stop has a deadline (`STOP_DEADLINE_S`), without Faust's spinner."""

    class Worker(faust.Worker):  # type: ignore[misc]
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            # Faust's spinner turns the root logger to DEBUG so that every log record spins
            # it: aiokafka's and Faust's debug records were then built for every fetch and
            # produce (and the trace enabled). The status line tells the progress instead.
            self.spinner = None

        async def on_stop(self) -> None:
            _STOPPING.set()
            timer = threading.Timer(STOP_DEADLINE_S, _force_exit, args=(self,))
            timer.daemon = True
            timer.start()
            await super().on_stop()

    return Worker


def _wait_for_broker(settings: Settings) -> tuple[str, list[str]]:
    """The bootstrap servers and the topics created; a restarted worker waits for the
    broker instead of failing (a first start fails at once: the user is watching)."""
    restarted = RESTARTED in os.environ
    if restarted:
        _exit_on_sigterm()
    pause = 0.5
    while True:
        try:
            bootstrap = bootstrap_servers(settings)
            return bootstrap, ensure_topics(bootstrap, settings)
        except InfraError as err:
            if not restarted:
                raise CliError(str(err)) from err
            print(f"worker: waiting for the broker ({err})", file=sys.stderr, flush=True)
            time.sleep(pause)
            pause = min(MAX_BACKOFF_S, pause * 2)


def run(args: argparse.Namespace) -> int:
    if args.web_port is not None and not 0 < args.web_port < 65536:
        raise CliError(
            f"--web-port {args.web_port}: expected a port number 1-65535", exit_code=ExitCode.USAGE
        )
    if args.status_every < 0:
        raise CliError("--status-every must be 0 or more seconds", exit_code=ExitCode.USAGE)
    import faust  # heavy: only when a worker really starts

    from streams.app import app_id, create_app
    from streams.live import register_worker, unregister_worker

    settings = Settings.from_env()
    bootstrap, created = _wait_for_broker(settings)
    if RESTARTED in os.environ:  # reached the broker: Faust takes the signals over again
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    worker_id = args.worker_id or f"{socket.gethostname()}-{os.getpid()}"
    port = args.web_port or free_port()
    try:
        app = create_app(
            settings,
            worker_id=worker_id,
            web_port=port,
            bootstrap=bootstrap,
            on_fatal=_start_again,
        )
    except StreamsError as err:  # e.g. an unpinned faust-streaming or aiokafka
        raise CliError(str(err)) from err
    if args.trace is not None:
        try:
            trace_to(args.trace)
        except OSError as err:
            raise CliError(
                f"--trace {args.trace}: cannot write it ({err.strerror or err})",
                exit_code=ExitCode.USAGE,
            ) from err
    entry = register_worker(settings, worker_id, port)
    print(
        for_stream(
            f"worker {worker_id}: group {app_id(settings)}, broker {bootstrap}, "
            f"live form at http://127.0.0.1:{port}/form/<unit>/"
            + (f"; created topics {', '.join(created)}" if created else ""),
            sys.stderr,
        ),
        file=sys.stderr,
        flush=True,
    )
    worker = worker_class(faust)(app, loglevel=args.loglevel, quiet=True, redirect_stdouts=False)
    logging.getLogger("faust").setLevel(args.loglevel.upper())
    status = _status_line(args, settings, worker_id, port, bootstrap)
    _collect_less()
    app.timer(FREEZE_EVERY)(Collector().tick)
    try:
        worker.execute_from_commandline()
    except SystemExit as stop:
        return int(stop.code or 0)
    finally:
        unregister_worker(entry)
        if status is not None:
            status.stop()
    return 0


#: Container allocations between the collector's youngest passes (Python's default: 700).
GC_YOUNG = 20_000
#: Seconds between moves of whatever survived into the collector's permanent generation.
FREEZE_EVERY = 1.0
#: A full collection once the frozen objects are this many times those after the last
#: one (CPython's own rule for its oldest generation: a quarter more since the last), and
#: not sooner than FULL_COLLECT_AFTER seconds after it.
FULL_COLLECT_GROWTH = 1.25
FULL_COLLECT_AFTER = 600.0


def _collect_less() -> None:
    """The worker's state grows for the whole campaign (every event's ledger entry, every
    cell's day deltas, in the table) and a young pass walks whatever survived since the
    last: with Python's default one came every 700 containers. `arrears bench streams
    --events 100000 --unit 320000`, two runs each: worker CPU 163-187 us an event with
    the default, 123-158 us with this. The modules and the app built so far are frozen
    out of the passes (they live as long as the process); cycles are still found, less
    often (`Collector`)."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


class Collector:
    """Keeps the collector's passes to what the last second made.

    Even young passes every 20,000 containers walked the middle and old generations, which
    the table's churn refills (each chunk writes fresh copies of the values it changed):
    an offline run of the engine over 200,000 generated events spent 1.2 s of 14 s in
    the collector, its longest pass 161 ms. Moving the survivors into the permanent
    generation every second (`gc.freeze`, a constant-time splice) leaves the passes
    only the objects since: 0.24 s, the longest 5 ms. Frozen objects are still freed when
    their last reference goes; only a reference cycle among them waits, for the full
    collection (`gc.unfreeze`, `gc.collect`, freeze again) that comes once they are a
    quarter more than after the last, as CPython times its own full passes, and ten
    minutes after it at the soonest: a full pass walks the start-up objects too, and
    with the growth rule alone `arrears bench streams --events 300000` had a p99 of
    488 ms at 1,000 events/s (81 ms with the passes ten minutes apart).
    """

    def __init__(
        self,
        growth: float = FULL_COLLECT_GROWTH,
        after: float = FULL_COLLECT_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.growth, self.after, self.clock = growth, after, clock
        self.frozen_after_full = gc.get_freeze_count()
        self.last_full = clock()

    async def tick(self) -> None:
        gc.freeze()
        now = self.clock()
        if (
            now - self.last_full >= self.after
            and gc.get_freeze_count() > self.growth * self.frozen_after_full
        ):
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.frozen_after_full, self.last_full = gc.get_freeze_count(), now


def _status_line(
    args: argparse.Namespace, settings: Settings, worker_id: str, port: int, bootstrap: str
) -> StatusLine | None:
    """The status line's thread (none with --quiet), started."""
    from streams.app import app_id

    if args.quiet:
        return None

    def say(line: str) -> None:
        print(for_stream(line, sys.stderr), file=sys.stderr, flush=True)

    return StatusLine(
        worker_id,
        f"http://127.0.0.1:{port}",
        bootstrap,
        app_id(settings),
        {source_topic(settings, s): s for s in SOURCES},
        every=args.status_every,
        say=say,
    ).start()
