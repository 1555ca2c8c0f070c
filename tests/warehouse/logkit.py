"""A small December story as source-topic records: duplicates, corrections, retractions,
a late arrival, an invalid record and an event after the cutoff."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from tests.contracts.eventkit import BUILDER, FACTORY, GOV_PROJECT, REPAIR, raw
from warehouse.offsets import Offsets
from warehouse.rebuild import LogRecord

SOURCES = ("inspection", "mediation", "court", "complaint")
PARTITIONS = 3


def topics(prefix: str = "t.") -> dict[str, str]:
    return {s: f"{prefix}{s}" for s in SOURCES}


def partition_of(unit: str) -> int:
    return int(unit) % PARTITIONS  # keyed by unit, like the producer's partitioner (stable)


def _resolved(case: str, amount: str, workers: int, unit: str, **kw: Any) -> dict[str, Any]:
    return raw(
        "arrears.resolved",
        {
            "case_id": case,
            "employer": FACTORY,
            "workers": workers,
            "amount": amount,
            "channel": "inspection",
            "new_employment_form": False,
        },
        unit=unit,
        **kw,
    )


def phase_one() -> list[dict[str, Any] | str]:
    """What was known at close of business on 12-31 (one invalid line among it)."""
    first = raw(
        "employer.inspected",
        {"employer": FACTORY, "workers": 100, "migrant_workers": 60, "method": "onsite"},
        unit="320412",
        event_id="w-insp-1",
        at="2024-12-02T10:00:00+08:00",
    )
    return [
        first,
        raw(
            "employer.inspected",
            {
                "employer": BUILDER,
                "project": GOV_PROJECT,
                "workers": 250,
                "migrant_workers": 240,
                "method": "onsite",
            },
            unit="320402",
            event_id="w-insp-2",
            at="2024-12-03T09:00:00+08:00",
        ),
        _resolved("C-1", "1000.00", 10, "320412", event_id="w-res-1"),
        dict(first),  # a resend: same event_id, same content
        _resolved("C-2", "250.00", 5, "320402", event_id="w-res-2"),
        raw(
            "dispute.resolved",
            {
                "case_no": "M-1",
                "employer": FACTORY,
                "workers": 3,
                "amount": "30.00",
                "channel": "mediation",
                "new_employment_form": False,
            },
            unit="320471",
            event_id="w-med-1",
            at="2024-12-10T10:00:00+08:00",
        ),
        raw(
            "execution.concluded",
            {
                "case_no": "(2024)苏04执1号",
                "employer": BUILDER,
                "workers": 7,
                "amount": "70.00",
                "new_employment_form": True,
            },
            unit="320400",
            event_id="w-court-1",
            at="2024-12-11T10:00:00+08:00",
        ),
        '{"event_id": "broken", "source": "inspection"',  # not JSON: skipped (dead letter)
        raw(
            "employer.inspected",
            {"employer": REPAIR, "workers": 40, "migrant_workers": 1, "method": "online"},
            unit="320412",
            event_id="w-jan",
            at="2025-01-05T10:00:00+08:00",
        ),  # after the cutoff
        raw(
            "lead.received",
            {
                "lead_id": "L-1",
                "intake": "centralized_reception",
                "workers_claimed": 4,
                "amount_claimed": "400.00",
            },
            unit="320404",
            event_id="w-lead-1",
        ),
    ]


def phase_two() -> list[dict[str, Any] | str]:
    """What arrived after the close-of-business snapshot."""
    late = raw(
        "employer.inspected",
        {"employer": REPAIR, "workers": 35, "migrant_workers": 5, "method": "onsite"},
        unit="320404",
        event_id="w-late-1",
        at="2024-12-31T16:00:00+08:00",
        recorded_at="2025-01-02T09:00:00+08:00",
    )
    return [
        late,
        _resolved("C-1", "1500.00", 12, "320412", event_id="w-res-1b", supersedes="w-res-1"),
        raw(
            "event.retracted",
            {"retracts": "w-res-2", "reason": "entered twice"},
            unit="320402",
            event_id="w-retract-1",
        ),
        phase_one()[5],  # a resend of the mediation event
    ]


class Log:
    """An in-memory log: records appended per topic-partition with Kafka-like offsets."""

    def __init__(self, prefix: str = "t.") -> None:
        self.topics = topics(prefix)
        self.records: list[LogRecord] = []
        self._next: dict[tuple[str, int], int] = defaultdict(int)

    def append(self, events: Iterable[dict[str, Any] | str]) -> None:
        for e in events:
            if isinstance(e, str):
                source, unit = "inspection", "320412"
                value = e
            else:
                source, unit = e["source"], e["unit"]
                value = json.dumps(e, ensure_ascii=False)
            topic, partition = self.topics[source], partition_of(unit)
            offset = self._next[(topic, partition)]
            self._next[(topic, partition)] += 1
            self.records.append(LogRecord(topic, partition, offset, value.encode()))

    def end(self) -> Offsets:
        out: Offsets = {t: {p: 0 for p in range(PARTITIONS)} for t in self.topics.values()}
        for (topic, partition), offset in self._next.items():
            out[topic][partition] = offset
        return out

    def upto(self, offsets: Offsets) -> list[LogRecord]:
        """The records before `offsets`, in log order (topic, partition, offset)."""
        chosen = [
            r for r in self.records if r.offset < offsets.get(r.topic, {}).get(r.partition, 0)
        ]
        return sorted(chosen, key=lambda r: (r.topic, r.partition, r.offset))
