"""How a fault scenario ends: live, Kafka replay and archive batch compared cell by cell.

Every test of the fault tier ends with `three_paths`, which waits until the workers'
live answer reaches the log's end, replays the source topics from Kafka, archives them
and recomputes from the archive, and compares the three at each cutoff: every unit's
own figures and the rolled-up form. Its `Verdict` is one row of the tier's table
(`tests/faults/conftest.py` prints it at the end of the run).

Lost and double are counted against the log: the Kafka replay's count of valid records
is the truth; a live or archive count below it is that many events lost, above it that
many counted twice. Counts alone could cancel out (one lost, another twice), so the
workers' ledger is compared too, entry by entry: every event the replay's Ledger holds
must be in the workers' changelog in the same state (status, content hash, correction,
fold). An entry the workers miss is an event lost; one they hold that the replay does
not, or holds otherwise, is a differing entry. The cells are compared besides.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.cutoff import parse_cutoff
from infra.settings import Settings
from infra.topics import tallies_changelog
from streams.engine import next_offsets, with_journal
from streams.live import cutoff_and_day, form_figures, gather
from streams.ownership import read_committed
from tests.streams.kafka_kit import log_ends, wait_caught_up
from tests.streams.workload import CAMPAIGN, REGISTRY
from warehouse.archive import Archiver
from warehouse.kafka_log import source_topics
from warehouse.rebuild import LogRecord, Rebuild
from warehouse.replay import rebuild_from_archive, rebuild_from_kafka

__all__ = ["Verdict", "compare_ledgers", "three_paths"]

Figures = dict[tuple[str, str], int]


@dataclass(frozen=True)
class Verdict:
    """One row of the fault table."""

    fault: str
    sent: int  # records produced into the source topics, good and bad
    events: int  # valid records in the log (the Kafka replay)
    lost: int  # valid records the live figures or the archive batch miss
    double: int  # valid records the live figures or the archive batch count twice
    cells: int  # cells compared (own and form, every cutoff)
    differing: int  # of those, cells where live, Kafka and archive do not all agree
    recovery_s: float | None  # the scenario's recovery time, where it has one
    entries: int = 0  # ledger entries compared (the workers' changelog and the replay)
    entries_differing: int = 0  # of those, held by one side only or in another state
    refused: tuple[int, int] = (0, 0)  # records the Kafka replay and the archiver refused
    examples: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return (
            self.lost == 0
            and self.double == 0
            and self.differing == 0
            and self.entries_differing == 0
            and self.events > 0
        )

    def explain(self) -> str:
        return (
            f"{self.fault}: {self.lost} lost, {self.double} double, {self.differing} of "
            f"{self.cells} cells and {self.entries_differing} of {self.entries} ledger "
            f"entries differ; e.g. {list(self.examples)}"
        )


def _differing(name: str, *paths: tuple[str, Figures]) -> tuple[int, list[str]]:
    keys = set().union(*(figures.keys() for _, figures in paths))
    bad = []
    for key in sorted(keys):
        values = [figures.get(key, 0) for _, figures in paths]
        if len(set(values)) > 1:
            shown = ", ".join(f"{p}={v}" for (p, _), v in zip(paths, values, strict=True))
            bad.append(f"{name} {key}: {shown}")
    return len(bad), bad


def three_paths(
    settings: Settings,
    workdir: Path,
    fault: str,
    *,
    sent: int,
    recovery_s: float | None = None,
    cutoffs: Iterable[str | None] = ("2024-12-31", None),
    input_lines: Iterable[bytes | str] | None = None,
) -> Verdict:
    """Live (caught up with the log), Kafka replay and archive batch, cell by cell; and,
    given `input_lines`, the replay against those lines folded directly, no Kafka between:
    nothing the input holds was lost on the way in, nor sent twice with effect (the three
    paths all read the log, so they cannot see a record that never reached it)."""
    cutoffs = tuple(cutoffs)
    wait_caught_up(settings, timeout=180)
    topics = source_topics(settings)
    kafka = rebuild_from_kafka(settings.bootstrap_servers, topics, None, REGISTRY)
    if input_lines is not None:
        _assert_log_holds(kafka.rebuild, input_lines, cutoffs)
    archive_root = workdir / "fault-archive"
    run = Archiver(settings.bootstrap_servers, settings, archive_root, REGISTRY).run(until_end=True)
    archive = rebuild_from_archive(archive_root, topics, kafka.offsets, REGISTRY)
    cells = differing = lost = double = 0
    examples: list[str] = []
    for text in cutoffs:
        cutoff = parse_cutoff(text, CAMPAIGN)
        live = gather(settings, cutoff_and_day(text, CAMPAIGN)[1], timeout=30)
        assert live.offsets == log_ends(settings), "the workers moved on while being compared"
        own: list[tuple[str, Figures]] = [
            ("live", dict(live.own)),
            ("kafka", dict(kafka.rebuild.own_figures(cutoff))),
            ("archive", dict(archive.rebuild.own_figures(cutoff))),
        ]
        form = [(path, form_figures(figures, REGISTRY)) for path, figures in own]
        for name, paths in (("own", own), ("form", form)):
            n, bad = _differing(f"{name}@{cutoff.iso()}", *paths)
            differing += n
            examples.extend(bad[: 6 - len(examples)] if len(examples) < 6 else [])
            cells += len(paths[1][1])
        truth = kafka.rebuild.events
        for path, count in (("live", live.events), ("archive", archive.rebuild.events)):
            if count is None:
                raise AssertionError(f"the {path} figures do not say how many events they count")
            lost = max(lost, truth - count)
            double = max(double, count - truth)
    # the Ledger's entries, from a record-by-record replay to the same offsets (the
    # vectorised one above keeps only what it needs for the figures)
    ledger = rebuild_from_kafka(
        settings.bootstrap_servers, topics, kafka.offsets, REGISTRY, vectorised=False
    ).rebuild
    assert isinstance(ledger, Rebuild)
    replayed = {key: _plain(entry) for key, entry in ledger.ledger.entries.items()}
    workers = _workers_ledger(settings, kafka.offsets)
    missing, otherwise, shown = compare_ledgers(replayed, workers)
    lost = max(lost, len(missing))
    examples.extend(shown[: max(0, 8 - len(examples))])
    return Verdict(
        fault=fault,
        sent=sent,
        events=kafka.rebuild.events,
        lost=lost,
        double=double,
        cells=cells,
        differing=differing,
        recovery_s=recovery_s,
        entries=len(replayed.keys() | workers.keys()),
        entries_differing=len(missing) + len(otherwise),
        refused=(kafka.rebuild.invalid, run.invalid),
        examples=tuple(examples),
    )


def compare_ledgers(
    replayed: dict[str, Any], workers: dict[str, Any]
) -> tuple[set[str], set[str], list[str]]:
    """The Ledger keys the workers miss, those held by the workers alone or in another
    state, and a few of each as examples."""
    missing = replayed.keys() - workers.keys()
    otherwise = {k for k in workers if replayed.get(k) != workers[k]}
    shown = [f"ledger {k}: not in the workers' changelog" for k in sorted(missing)[:3]]
    shown += [
        f"ledger {k}: workers {workers[k]}, replay {replayed.get(k)}" for k in sorted(otherwise)[:3]
    ]
    return missing, otherwise, shown


def _plain(value: Any) -> Any:
    """`value` as JSON gives it back (tuples as lists): how the changelog holds it."""
    return json.loads(json.dumps(value))


def _workers_ledger(
    settings: Settings, upto: dict[str, dict[int, int]], timeout: float = 60
) -> dict[str, Any]:
    """The ledger entries the workers' changelog holds (committed records, each key's last
    value, every partition's last chunk completed by its journal), by Ledger key, once its
    journals have reached `upto` (the changelog commits a little after the figures)."""
    partitions = set(range(settings.partitions))
    deadline = time.monotonic() + timeout
    while True:
        table: dict[str, Any] = {}
        asyncio.run(
            read_committed(
                settings.bootstrap_servers,
                tallies_changelog(settings),
                sorted(partitions),
                table,
                client_id="arrears-fault-verdict",
            )
        )
        behind = [
            (topic, p)
            for p in sorted(partitions)
            for topic, offset in next_offsets(table, p, upto).items()
            if offset != upto[topic].get(p, 0)
        ]
        if not behind:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"the workers' changelog did not reach the log's end: {behind}")
        time.sleep(1)
    return {
        key.split("|", 2)[2]: value
        for key, value in with_journal(table, partitions)
        if key.startswith("L|")
    }


def _assert_log_holds(
    log: Any, lines: Iterable[bytes | str], cutoffs: Iterable[str | None]
) -> None:
    expected = Rebuild(REGISTRY)
    expected.feed(LogRecord("input", 0, i, line) for i, line in enumerate(lines))
    for text in cutoffs:
        cutoff = parse_cutoff(text, CAMPAIGN)
        want = {k: v for k, v in expected.own_figures(cutoff).items() if v}
        got = {k: v for k, v in log.own_figures(cutoff).items() if v}
        assert got == want, (
            f"the log's figures at {cutoff.iso()} are not the input's: "
            f"{sorted(set(got.items()) ^ set(want.items()))[:12]}"
        )
