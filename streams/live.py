"""The live form: which workers run, asking each for its partitions' figures, rolling up.

Every worker owns some source partitions and answers `/own` with the own
(not rolled-up) figures of the units whose events are in those partitions,
and the offsets of those partitions the figures reflect. A complete answer
needs every partition exactly once from a ready worker; the sum of those
disjoint parts is the own figures of every unit, `contracts.fold.rollup`
turns them into the form, and the union of their offsets is the vector a
replay rebuilds them from (`arrears snapshot --from live`). Workers register
their web port in a small file under the state directory, so a reader finds
them.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.calendar import Campaign
from contracts.cutoff import Cutoff, parse_cutoff
from contracts.fold import Figures, rollup, with_totals
from contracts.registry import Registry
from infra.broker import pid_alive
from infra.offsets import Offsets
from infra.settings import Settings
from streams.group import group_dir
from streams.tallies import Window

__all__ = [
    "Incomplete",
    "NoWorker",
    "Live",
    "Offsets",
    "WorkerEntry",
    "workers_dir",
    "register_worker",
    "unregister_worker",
    "live_workers",
    "merge",
    "cutoff_and_day",
    "fetch_own",
    "gather",
    "form_figures",
    "unit_form",
]


class Incomplete(RuntimeError):
    """The running workers do not (yet) cover every partition: the form would be partial."""


class NoWorker(Incomplete):
    """No worker is running, or none of those registered answers: nothing to wait for."""


@dataclass(frozen=True)
class WorkerEntry:
    worker_id: str
    pid: int
    host: str
    port: int
    path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def workers_dir(settings: Settings) -> Path:
    return group_dir(settings) / "workers"


def register_worker(settings: Settings, worker_id: str, port: int, host: str = "127.0.0.1") -> Path:
    """Announce a worker's web port (written atomically; removed when it stops)."""
    folder = workers_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{worker_id}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"worker_id": worker_id, "pid": os.getpid(), "host": host, "port": port}),
        encoding="utf-8",
    )
    tmp.replace(path)
    return path


def unregister_worker(path: Path) -> None:
    path.unlink(missing_ok=True)


def live_workers(settings: Settings) -> list[WorkerEntry]:
    """Registered workers whose process is alive (entries of killed workers are dropped)."""
    out = []
    folder = workers_dir(settings)
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        entry = WorkerEntry(
            str(data["worker_id"]), int(data["pid"]), str(data["host"]), int(data["port"]), path
        )
        if pid_alive(entry.pid):
            out.append(entry)
        else:
            path.unlink(missing_ok=True)
    return out


def cutoff_and_day(text: str | None, campaign: Campaign) -> tuple[Cutoff, int]:
    """The cutoff `text` names (`contracts.cutoff.parse_cutoff`: None is the window's end)
    and the day whose end it is: the live tallies have day resolution (ValueError otherwise).
    """
    cutoff = parse_cutoff(text, campaign)
    return cutoff, Window.of(campaign).cutoff_day(cutoff.at)


@dataclass(frozen=True)
class Live:
    """The workers' parts merged: every unit's own figures and what they reflect.

    `offsets` covers every source topic and partition (exclusive ends): replaying
    the log to it rebuilds `own`. `events` is the valid records applied up to it
    (None if a worker's state predates that count, see `streams.engine`).
    """

    own: Figures
    offsets: Offsets
    events: int | None
    workers: list[str]
    #: Partitions no ready worker answered for: empty unless asked for a partial answer
    #: (`allow_partial`); `offsets` and `own` then leave them out.
    missing: tuple[int, ...] = ()
    #: Workers that did not count (unreachable, recovering), with why.
    absent: tuple[str, ...] = ()


def merge(
    answers: Iterable[Mapping[str, Any]], partitions: int, *, allow_partial: bool = False
) -> Live:
    """Own figures of every unit from the workers' parts, with their offset vector.

    Incomplete unless the ready parts tile the partitions (each exactly once) and
    each reports the offsets of all its partitions for the same source topics. A worker
    that is unreachable (paused, hung) or not ready does not block the answer once the
    others cover every partition: the group has moved on without it. `allow_partial`:
    partitions nobody ready owns are left out (`Live.missing`) instead of refused;
    conflicting answers are refused all the same.
    """
    answers = list(answers)
    owner: dict[int, str] = {}
    total: dict[tuple[str, str], int] = {}
    offsets: Offsets = {}
    topics: dict[frozenset[str], str] = {}
    events: int | None = 0
    problems = []
    absent = []
    ready = []
    for answer in answers:
        worker = answer["worker_id"]
        if not answer.get("ready"):
            error = answer.get("error")
            why = f"does not answer ({error})" if error else "is recovering or rebalancing"
            absent.append(f"worker {worker} {why}")
            continue
        ready.append(str(worker))
        if answer.get("recovering"):  # assigned to it, still being read back
            rebuilding = ", ".join(str(p) for p in answer["recovering"])
            absent.append(f"worker {worker} is still taking partition(s) {rebuilding} over")
        for p in answer["partitions"]:
            if p in owner:
                problems.append(f"partition {p} claimed by {owner[p]} and {worker}")
            owner[p] = worker
        for unit, cell_id, value in answer["figures"]:
            total[(unit, cell_id)] = total.get((unit, cell_id), 0) + int(value)
        problems += _merge_offsets(answer, offsets, topics)
        count = answer.get("events")
        events = None if events is None or count is None else events + int(count)
    missing = sorted(set(range(partitions)) - set(owner))
    if missing and not allow_partial:
        problems.append(
            f"no ready worker owns partition(s) {missing} (unowned or unreachable)"
            + (f": {'; '.join(absent)}" if absent else "")
        )
    if len(topics) > 1:
        problems.append(
            "workers report offsets of different source topics: "
            + "; ".join(f"{w}: {sorted(t)}" for t, w in topics.items())
        )
    if problems:
        raise Incomplete("; ".join(problems))
    if not ready:
        raise Incomplete("no worker is ready" + (f": {'; '.join(absent)}" if absent else ""))
    return Live(with_totals(total), offsets, events, ready, tuple(missing), tuple(absent))


def _merge_offsets(
    answer: Mapping[str, Any], into: Offsets, topics: dict[frozenset[str], str]
) -> list[str]:
    """Add one ready answer's offsets to `into`; the problems that make the vector partial."""
    worker = answer["worker_id"]
    reported = answer.get("offsets")
    if reported is None:
        return [
            f"worker {worker} does not report the offsets of its figures "
            "(it runs older code: restart it)"
        ]
    topics.setdefault(frozenset(reported), worker)
    owned = set(answer["partitions"])
    problems = []
    for topic, parts in reported.items():
        got = {int(p) for p in parts}
        if got != owned:
            problems.append(
                f"worker {worker} owns partition(s) {sorted(owned)} but reports "
                f"offsets of {topic} for {sorted(got)}"
            )
        for p, offset in parts.items():
            into.setdefault(topic, {})[int(p)] = int(offset)
    return problems


def fetch_own(entry: WorkerEntry, cutoff_day: int, timeout: float = 5.0) -> dict[str, Any]:
    url = f"{entry.url}/own/?day={cutoff_day}"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return dict(json.load(response))


def _ask(entry: WorkerEntry, cutoff_day: int, timeout: float) -> dict[str, Any]:
    try:
        return fetch_own(entry, cutoff_day, timeout=timeout)
    except (OSError, urllib.error.URLError, ValueError, http.client.HTTPException) as err:
        why = getattr(err, "reason", None) or err  # URLError wraps the socket's error
        return {
            "worker_id": entry.worker_id,
            "ready": False,
            "partitions": [],
            "figures": [],
            "error": f"pid {entry.pid}, {entry.url}/own/: {str(why) or type(why).__name__}",
        }


def gather(
    settings: Settings,
    cutoff_day: int,
    *,
    timeout: float = 30.0,
    allow_partial: bool = False,
    grace: float = 2.0,
    on_wait: Callable[[str], None] | None = None,
) -> Live:
    """Ask every live worker (all at once: a paused one costs one fetch timeout, not one per
    worker) until their parts tile the partitions, or `timeout` passes. Then, with
    `allow_partial`, the parts there are (`Live.missing` names the rest); else Incomplete.

    Workers are found by the files they register under `workers_dir(settings)` (their pid
    alive). When none is registered for `grace` seconds, `NoWorker` is raised then rather
    than after `timeout` (a starting worker registers before it answers, so one that is
    registered is waited for). Until the form has been missing for a second, a question
    waits `grace` seconds at most; then `on_wait` hears why (which workers do not answer,
    and how they were found) instead of the caller waiting in silence, and later questions
    give a slow worker up to 5 s."""
    started = time.monotonic()
    deadline = started + timeout
    silent_until = started + min(grace, timeout)
    reason = "no worker is running (start one with `arrears worker`)"
    # Told (or past telling) once the form has been missing for a second: a rebalance that
    # settles within it is no news. Until then no worker is given more than `grace`.
    tell_at, told = started + min(1.0, grace), False
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="arrears-gather") as pool:
        while True:
            entries = live_workers(settings)
            wait = max(1.0, min(5.0 if told else grace, deadline - time.monotonic()))
            answers = list(
                pool.map(_ask, entries, [cutoff_day] * len(entries), [wait] * len(entries))
            )
            if answers:
                try:
                    return merge(answers, settings.partitions)
                except Incomplete as err:
                    reason = str(err)
                if not told and time.monotonic() >= tell_at:
                    told = True
                    if on_wait is not None:
                        on_wait(_waiting(settings, entries, reason, wait, timeout))
            if entries:  # a registered worker may still be starting: wait for it as long
                silent_until = float("inf")
            elif time.monotonic() >= silent_until:
                raise NoWorker(_no_worker(settings))
            if time.monotonic() >= deadline:
                if allow_partial and answers:
                    return merge(answers, settings.partitions, allow_partial=True)
                raise Incomplete(f"the live form is not complete after {timeout:.0f}s: {reason}")
            time.sleep(0.2)


def _waiting(
    settings: Settings, entries: list[WorkerEntry], reason: str, wait: float, timeout: float
) -> str:
    """Why the form is not there yet, and how the workers were looked for."""
    return (
        f"the live form is not complete yet: {reason}. Looked for workers in "
        f"{workers_dir(settings)} (a running worker registers its web port there) and found "
        f"{len(entries)} with a live process; asked each for its part at once (GET /own/, "
        f"{wait:.1f} s to answer). Waiting up to {timeout:.0f} s (--timeout) for them to "
        "answer or for the group to move the partitions of a worker that is gone"
    )


def _no_worker(settings: Settings) -> str:
    return (
        f"no `arrears worker` is running: none is registered in {workers_dir(settings)} (a "
        "running worker writes its web port there). Start one with `arrears worker`, with "
        "the same ARREARS_STATE_DIR and ARREARS_TOPIC_PREFIX as this command"
    )


def form_figures(own: Figures, registry: Registry) -> Figures:
    """Every unit's rolled-up figures from every unit's own figures."""
    return rollup(own, {u.code: u.parent for u in registry})


def unit_form(own: Figures, registry: Registry, unit: str) -> dict[str, int]:
    """Cell id -> exact value of `unit`'s rolled-up form."""
    registry.unit(unit)
    rolled = form_figures(own, registry)
    return {cell_id: value for (u, cell_id), value in sorted(rolled.items()) if u == unit}
