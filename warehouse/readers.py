"""Log reader processes, shared by the Kafka replay (`warehouse.kafka_rows`) and the
archiver (`warehouse.archive`): the topic-partitions dealt out to one process per core,
each process started fresh, handed its job and followed through the lines it reports.

Why processes: parsing and validating a record in Python costs several times what
kafka-python spends fetching and decoding it, so one process cannot keep up with even a
bare consumer.

A job is any picklable object; the process calls it with `say`, a function that sends one
line to the parent. Lines start with a word: `progress N` (records read), `done ...`
(the job's totals), `error MESSAGE` (it failed), or a word of the job's own, handed to the
caller's `on_line`. A process that ends without `done` fails the run.
"""

from __future__ import annotations

import gc
import pickle
import selectors
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from warehouse.errors import WarehouseError

__all__ = ["deal", "run_readers"]

Progress = Callable[[int], None]
Item = TypeVar("Item")


def deal(items: Sequence[tuple[Item, int]], readers: int) -> list[list[Item]]:
    """Deal (item, records) out to at most `readers`, balancing record counts: largest first,
    each to the reader with the fewest records so far. Empty plans are left out."""
    work = sorted(items, key=lambda w: -w[1])
    plans: list[list[Item]] = [[] for _ in range(max(1, readers))]
    loads = [0] * len(plans)
    for item, records in work:
        k = loads.index(min(loads))
        plans[k].append(item)
        loads[k] += records
    return [plan for plan in plans if plan]


def run_readers(
    jobs: Sequence[Callable[[Callable[[str], None]], None]],
    *,
    progress: Progress | None = None,
    on_line: Callable[[str, str], None] | None = None,
) -> list[str]:
    """Run each job in a reader process of its own; the body of each one's `done` line, in
    the order of `jobs`. Fails with WarehouseError if a job says `error` or a process dies;
    the others are then killed."""
    # Each reader is a fresh interpreter (running `_main`), not a fork: a fork taken while
    # polars' or Arrow's thread pools hold a lock can hang, and multiprocessing's spawn
    # would import the caller's main module again. Starting one costs about a second.
    procs: dict[int, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        for k, job in enumerate(jobs):
            proc = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(pickle.dumps(job))
            proc.stdin.close()
            procs[proc.stdout.fileno()] = (k, proc)
        return _follow(procs, progress, on_line)
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            assert proc.stdout is not None
            proc.stdout.close()


def _follow(
    procs: dict[int, tuple[int, subprocess.Popen[bytes]]],
    progress: Progress | None,
    on_line: Callable[[str, str], None] | None,
) -> list[str]:
    """Read the readers' lines until each says `done`; fail on `error` or death."""
    done: dict[int, str] = {}
    running = dict(procs)
    with selectors.DefaultSelector() as selector:
        for fd, (_, proc) in running.items():
            selector.register(proc.stdout, selectors.EVENT_READ, fd)  # type: ignore[arg-type]
        while running:
            for key, _ in selector.select():
                k, proc = running[key.data]
                line = proc.stdout.readline().decode().rstrip("\n")  # type: ignore[union-attr]
                kind, _, body = line.partition(" ")
                if kind == "progress":
                    if progress is not None:
                        progress(int(body))
                elif kind == "done":
                    done[k] = body
                    selector.unregister(key.fileobj)
                    del running[key.data]
                elif kind == "error":
                    raise WarehouseError(body)
                elif kind:
                    if on_line is not None:
                        on_line(kind, body)
                else:  # end of file: the reader is gone
                    code = proc.wait(timeout=10)
                    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
                    raise WarehouseError(
                        f"a log reader process died ({how}) before it was done; run it again"
                    )
    return [done[k] for k in sorted(done)]


#: A reader's interpreter, told that pandas is absent: pyarrow imports pandas (when it is
#: installed, as great-expectations has it) on the first array it builds, a quarter second
#: and 80 MB a reader spent on nothing. A finder first on sys.meta_path refuses the import,
#: which pyarrow takes as "no pandas".
_LAUNCH = f"""
import sys

class NoPandas:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ImportError("the log readers do without pandas")
        return None

sys.meta_path.insert(0, NoPandas())
from {__name__} import _main
_main()
"""


def _main() -> None:
    _die_with_parent()
    job = pickle.loads(sys.stdin.buffer.read())
    out = sys.stdout
    # No cyclic collection in a reader (the replay's and the archiver's alike): it makes
    # row tuples that live until their batch is written and garbage that reference
    # counting frees; a rejected record leaves no cycle (200,000 generated records, 1,032
    # of them invalid: `gc.collect()` found nothing unreachable). A pass per written batch
    # was 5% of a replay reader's time and 4% of an archiver reader's (py-spy, 1M events);
    # the process ends with its job.
    gc.freeze()
    gc.disable()

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    job(say)


def _die_with_parent() -> None:
    """On Linux, be killed when the parent dies: a reader left running after its parent
    was killed would go on writing (the archiver's parts) beside the next run."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the call
        os._exit(1)
