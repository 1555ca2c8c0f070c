"""Ingest under faults: a huge line, a dead validator, a conflict resubmitted unchanged, and
the one content hash behind `--skip-known`. No broker: a ListSink stands in for Kafka."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from contracts.events import content_hash_of, parse_event
from contracts.registry import Registry
from infra.settings import Settings
from pipeline.ingest import CONFLICT, Ingest, ListSink, ValidatorDied, known_event
from pipeline.ingest.deadletters import DeadLetter
from pipeline.ingest.resubmit import export_line, plan_resubmit
from pipeline.ingest.validators import Validators

FIXTURES = Path(__file__).parent.parent / "fixtures"
GOOD = (FIXTURES / "good_events.jsonl").read_bytes().splitlines(keepends=True)
SETTINGS = Settings(topic_prefix="t.")
REGISTRY = Registry.load()


def _letters(sink: ListSink) -> list[dict[str, Any]]:
    return [json.loads(v) for topic, _, v, _ in sink.records if topic == "t.deadletters"]


@pytest.mark.parametrize("validators", [0, 1])
def test_an_oversized_line_is_a_dead_letter_and_the_rest_of_the_file_goes_on(
    validators: int,
) -> None:
    huge = json.loads(GOOD[0])
    huge["payload"]["employer"]["name"] = "某" * 1_000_000  # 3 MB
    lines = [GOOD[1], json.dumps(huge, ensure_ascii=False).encode() + b"\n", *GOOD[2:]]
    sink = ListSink()
    with Ingest(REGISTRY, SETTINGS, sink, validators=validators) as run:
        run.feed("big.jsonl", lines)
    assert run.summary.rejected == {"record.too_large": 1}
    assert run.summary.accepted_total + run.summary.duplicates == len(lines) - 1
    ((letter_value),) = [v for t, _, v, _ in sink.records if t == "t.deadletters"]
    assert len(letter_value) < 1_000_000  # fits Kafka's default message.max.bytes
    (letter,) = _letters(sink)
    assert letter["line"] == 2 and letter["original_truncated"] is True


class _DyingRegistry(Registry):
    """A registry whose validator process dies (like kill -9) on the unit 320402."""

    def unit(self, code: object, *, field: str = "unit") -> Any:
        if code == "320402":
            os._exit(9)
        return super().unit(code, field=field)


def test_a_dead_validator_is_noticed_within_seconds_not_waited_on() -> None:
    victim = json.loads(GOOD[0])
    victim["unit"] = "320402"
    lines = [*GOOD * 300, json.dumps(victim).encode() + b"\n", *GOOD * 300]
    pool = Validators(1, _DyingRegistry(list(REGISTRY)))
    started = time.monotonic()
    try:
        with pytest.raises(ValidatorDied, match="validator process died"):
            for _ in pool.checked(lines):
                pass
    finally:
        pool.close()
    assert time.monotonic() - started < 30


class _DyingMidAnswerRegistry(Registry):
    """A registry whose validator process is killed (SIGKILL) half a second after it meets
    the unit 320402: by then it is blocked writing a long answer nobody reads yet."""

    def unit(self, code: object, *, field: str = "unit") -> Any:
        if code == "320402":
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGKILL)).start()
        return super().unit(code, field=field)


@pytest.mark.timeout(30)  # the bug this guards against is a hang
def test_a_validator_killed_in_the_middle_of_an_answer_is_noticed_not_waited_on() -> None:
    # ProcessPoolExecutor waited forever here: the half-written answer was in a pipe whose
    # write end the parent also held, so its reader never saw EOF (ingest hung in CI).
    victim = json.loads(GOOD[0])
    victim["unit"] = "320402"
    chunk = Validators.CHUNK_LINES
    answers = [GOOD[0]] * (2 * chunk)  # ~100 bytes of answer a line: far over a pipe's 64 kB
    lines = [*answers[:chunk], json.dumps(victim).encode() + b"\n", *answers[chunk:]]
    pool = Validators(1, _DyingMidAnswerRegistry(list(REGISTRY)))
    try:
        results = pool.checked(lines)
        next(results)  # the first chunk's answer is read; the second's fills the pipe ...
        time.sleep(2)  # ... and its writer is killed in the middle of it
        started = time.monotonic()
        with pytest.raises(ValidatorDied, match="validator process died"):
            for _ in results:
                pass
        assert time.monotonic() - started < 5
    finally:
        pool.close()


class _Unpicklable(bytes):
    """A line that cannot be handed to a validator (as if pickling ran out of memory)."""

    def __reduce_ex__(self, protocol: object) -> Any:
        raise MemoryError("no room to pickle the chunk")


@pytest.mark.timeout(30)  # the bug this guards against is a hang
def test_a_chunk_that_cannot_be_handed_over_fails_the_file_not_hangs_it() -> None:
    pool = Validators(1, REGISTRY)
    try:
        with pytest.raises(ValidatorDied, match="could not be handed to a validator"):
            for _ in pool.checked([_Unpicklable(GOOD[0])] * 10):
                pass
    finally:
        pool.close()


def test_validators_left_off_mid_file_refuse_another_file() -> None:
    pool = Validators(1, REGISTRY)
    try:
        first = pool.checked(GOOD * (Validators.CHUNK_LINES // len(GOOD) + 2))
        next(first)  # answers of the next chunks are still in the pipe
        with pytest.raises(RuntimeError, match="left off"):
            next(pool.checked(GOOD))
    finally:
        pool.close()


def test_resubmitting_an_unchanged_conflict_leaves_it_open_and_says_why() -> None:
    first = json.loads(GOOD[0])
    changed = dict(first, payload=dict(first["payload"], workers=121))
    sink = ListSink()
    run = Ingest(REGISTRY, SETTINGS, sink)
    run.feed("in.jsonl", [GOOD[0], json.dumps(changed, ensure_ascii=False).encode()])
    (value,) = _letters(sink)
    letter = DeadLetter.from_value(value)
    assert letter.reason == CONFLICT
    line = json.dumps(export_line(letter), ensure_ascii=False).encode()
    plan = plan_resubmit([line], {letter.id: letter}, REGISTRY, SETTINGS)
    assert not plan.events and not plan.marks
    ((_, dl_id, reason, message),) = plan.still_bad
    assert dl_id == letter.id and reason == CONFLICT and "still a conflict" in message
    # Given a new event_id (and "supersedes" the first), the fix goes through.
    fixed = export_line(letter)
    fixed["record"]["event_id"] = first["event_id"] + "-fix"
    fixed["record"]["supersedes"] = first["event_id"]
    line = json.dumps(fixed, ensure_ascii=False).encode()
    plan = plan_resubmit([line], {letter.id: letter}, REGISTRY, SETTINGS)
    assert plan.resolved == [(letter.id, first["event_id"] + "-fix")] and not plan.still_bad


def test_skip_known_hashes_by_the_one_content_hash_function() -> None:
    record = GOOD[0].rstrip(b"\n")
    obj = json.loads(record)
    digest = content_hash_of(record)
    assert known_event(record) == (obj["unit"], obj["source"], obj["event_id"], digest)
    assert digest == parse_event(record, REGISTRY).content_hash
    # A repeated key: json.loads keeps the last one, the contracts refuse the record; a
    # lenient hash would have matched a record the pipeline never accepted.
    doubled = record[:-1] + b', "event_id": "other"}'
    assert json.loads(doubled)["event_id"] == "other"
    assert known_event(doubled) is None
    assert known_event(b"[1, 2]") is None and known_event(None) is None


def test_ids_are_scoped_by_unit_and_a_cross_unit_correction_is_refused_with_how_to_move() -> None:
    first = json.loads(GOOD[0])
    elsewhere = dict(first, unit="320411")  # the same event_id under another unit
    elsewhere["payload"] = dict(first["payload"], workers=700)
    fix = dict(first, event_id="fix-1", unit="320404", supersedes=first["event_id"])
    retract = {
        "event_id": "ret-1",
        "source": "inspection",
        "type": "event.retracted",
        "occurred_at": first["occurred_at"],
        "unit": "320402",
        "payload": {"retracts": first["event_id"], "reason": "wrong unit"},
    }
    lines = [json.dumps(o, ensure_ascii=False).encode() for o in (first, elsewhere, fix, retract)]
    sink = ListSink()
    run = Ingest(REGISTRY, SETTINGS, sink)
    run.feed("units.jsonl", lines)
    # two events (one id, two units), not a conflict; the two cross-unit targets refused
    assert run.summary.accepted_total == 2
    assert run.summary.rejected == {"supersedes.other_unit": 1, "retracts.other_unit": 1}
    letters = _letters(sink)
    assert [letter["line"] for letter in letters] == [3, 4]
    assert all("retract it under its own unit" in letter["message"] for letter in letters)
    assert "320411 (inspection), 320412 (inspection)" in letters[0]["message"]
    # the same correction under the target's own unit goes on
    own = Ingest(REGISTRY, SETTINGS, ListSink())
    own.feed("own.jsonl", [lines[0], json.dumps(dict(fix, unit=first["unit"])).encode()])
    assert own.summary.accepted_total == 2 and not own.summary.rejected
