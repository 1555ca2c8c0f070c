"""Ingest routing and dead letters without Kafka: counting, duplicates, conflicts, record shapes."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path

import pytest

from contracts.clock import CST
from contracts.registry import Registry
from infra.settings import Settings
from pipeline.errors import ExitCode
from pipeline.ingest import (
    CONFLICT,
    Ingest,
    ListSink,
    dead_letter_id,
    dead_letter_record,
)
from pipeline.ingest.deadletters import DeadLetter, merge, select
from pipeline.ingest.resubmit import export_line, plan_resubmit

FIXTURES = Path(__file__).parent.parent / "fixtures"
GOOD = (FIXTURES / "good_events.jsonl").read_bytes().splitlines(keepends=True)
BAD = (FIXTURES / "bad_events.jsonl").read_bytes().splitlines(keepends=True)
REASONS = [
    r.strip()
    for r in (FIXTURES / "bad_events.reasons").read_text().splitlines()
    if r.strip() and not r.startswith("#")
]
SETTINGS = Settings(topic_prefix="t.")
AT = datetime(2024, 12, 20, 9, 30, tzinfo=CST)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def ingest(
    registry: Registry, lines: list[bytes], file: str = "in.jsonl"
) -> tuple[Ingest, ListSink]:
    sink = ListSink()
    run = Ingest(registry, SETTINGS, sink, clock=lambda: AT)
    run.feed(file, lines)
    return run, sink


def dead_letters(sink: ListSink) -> list[dict]:
    return [json.loads(v) for topic, _, v, _ in sink.records if topic == "t.deadletters"]


def test_good_file_is_all_accepted_to_the_topic_of_its_source_keyed_by_unit(registry):
    run, sink = ingest(registry, GOOD)
    assert run.summary.accepted_total == len(GOOD) and run.summary.exit_code == 0
    assert run.summary.accepted == {"inspection": 10, "mediation": 1, "court": 1, "complaint": 4}
    for (topic, key, value, headers), line in zip(sink.records, GOOD, strict=True):
        obj = json.loads(line)
        assert topic == f"t.{obj['source']}"
        assert key == obj["unit"].encode()
        assert value == line.rstrip(b"\n")  # the original bytes, newline stripped
        assert dict(headers)["arrears-file"] == b"in.jsonl"
    assert dict(sink.records[2][3])["arrears-line"] == b"3"


def test_every_bad_line_is_one_dead_letter_with_its_own_reason(registry):
    run, sink = ingest(registry, BAD, "bad.jsonl")
    letters = dead_letters(sink)
    assert [d["reason"] for d in letters] == REASONS
    assert [d["line"] for d in letters] == list(range(1, len(BAD) + 1))
    assert run.summary.rejected_total == len(BAD) and run.summary.accepted_total == 0
    assert run.summary.exit_code == ExitCode.REJECTED == 3
    assert sum(run.summary.rejected.values()) == len(BAD)


def test_dead_letter_record_shape(registry):
    line = BAD[20]  # unit.unknown
    run, sink = ingest(registry, [line], "dir/bad.jsonl")
    ((topic, key, value, headers),) = sink.records
    record = json.loads(value)
    assert topic == "t.deadletters" and key == record["id"].encode()
    assert set(record) == {
        "id",
        "original",
        "file",
        "line",
        "reason",
        "message",
        "field",
        "rejected_at",
        "origin",
    }
    assert record["original"].encode() == line.rstrip(b"\n")
    assert record["file"] == "dir/bad.jsonl" and record["line"] == 1
    assert record["reason"] == "unit.unknown" and record["field"] == "unit"
    assert "not in the registry" in record["message"]
    assert record["rejected_at"] == "2024-12-20T09:30:00+08:00"
    assert record["origin"] == "ingest"
    assert record["id"] == dead_letter_id("dir/bad.jsonl", 1, line.rstrip(b"\n"))


def test_bytes_that_are_not_utf8_are_kept_as_base64(registry):
    raw = b'{"event_id": "\xff\xfe"}'
    run, sink = ingest(registry, [raw + b"\r\n"])
    (record,) = dead_letters(sink)
    assert record["original_encoding"] == "base64"
    assert base64.b64decode(record["original"]) == raw
    assert record["reason"] == "json.utf8"


def test_dead_letter_ids_are_stable_and_distinct():
    assert dead_letter_id("a", 1, b"x") == dead_letter_id("a", 1, b"x")
    assert (
        len(
            {
                dead_letter_id("a", 1, b"x"),
                dead_letter_id("a", 2, b"x"),
                dead_letter_id("b", 1, b"x"),
                dead_letter_id("a", 1, b"y"),
            }
        )
        == 4
    )


def test_same_event_twice_is_a_duplicate_even_with_other_key_order_and_spacing(registry):
    obj = json.loads(GOOD[0])
    reordered = json.dumps(dict(reversed(list(obj.items()))), indent=None, separators=(",", ":"))
    run, sink = ingest(registry, [GOOD[0], GOOD[0], reordered.encode() + b"\n", GOOD[2]])
    assert run.summary.duplicates == 2
    assert run.summary.accepted_total == 2 and len(sink.records) == 2
    assert run.summary.exit_code == 0  # duplicates are fine


def test_same_event_id_with_other_content_is_a_conflict(registry):
    obj = json.loads(GOOD[0])
    obj["payload"]["workers"] = 121
    changed = json.dumps(obj, ensure_ascii=False).encode()
    run, sink = ingest(registry, [GOOD[0], changed, GOOD[0]])
    assert run.summary.accepted_total == 1 and run.summary.duplicates == 1
    assert run.summary.rejected == {CONFLICT: 1}
    (letter,) = dead_letters(sink)
    assert letter["line"] == 2 and letter["field"] == "event_id"
    assert "supersedes" in letter["message"] and obj["event_id"] in letter["message"]
    assert run.summary.exit_code == ExitCode.REJECTED


def test_same_event_id_other_content_with_supersedes_goes_on_to_the_ledger(registry):
    first = json.loads(GOOD[2])
    again = dict(first, supersedes="insp-320412-0001")
    again["payload"] = dict(first["payload"], workers=36)
    run, sink = ingest(registry, [GOOD[2], json.dumps(again, ensure_ascii=False).encode()])
    assert run.summary.accepted_total == 2 and not run.summary.rejected


def test_blank_lines_are_counted_not_rejected(registry):
    run, sink = ingest(registry, [GOOD[0], b"\n", b"  \r\n"])
    assert run.summary.blank == 2 and run.summary.lines == 3 and run.summary.exit_code == 0


def test_mixed_file_summary_counts_every_line(registry):
    lines = GOOD + BAD + GOOD[:3]
    run, _ = ingest(registry, lines)
    s = run.summary
    assert s.lines == len(lines)
    assert s.accepted_total + s.duplicates + s.rejected_total + s.blank == s.lines
    assert (s.accepted_total, s.duplicates, s.rejected_total) == (len(GOOD), 3, len(BAD))


def test_progress_is_reported_with_lines_and_bytes(registry):
    calls = []
    Ingest(registry, SETTINGS, ListSink()).feed("f", GOOD, lambda n, b: calls.append((n, b)))
    assert calls[-1] == (len(GOOD), sum(map(len, GOOD)))


# --- dead letters: merge, select, export, resubmit plan -------------------------------------


def _letter_values(registry) -> list[bytes]:
    _, sink = ingest(registry, BAD[:4] + [b"not json at all\n"], "bad.jsonl")
    return [v for topic, _, v, _ in sink.records if topic == "t.deadletters"]


def test_merge_keeps_latest_value_per_id_and_applies_marks(registry):
    values = _letter_values(registry)
    first = json.loads(values[0])
    mark = json.dumps(
        {
            "id": first["id"],
            "status": "resolved",
            "event_id": "e1",
            "resolved_at": "2024-12-21T10:00:00+08:00",
        }
    ).encode()
    letters, unreadable = merge(values + values[:1] + [b"garbage"], [(first["id"].encode(), mark)])
    assert len(letters) == 5 and unreadable == 1
    assert letters[0].status == "resolved" and letters[0].event_id == "e1"
    assert {dl.status for dl in letters[1:]} == {"open"}
    assert len(select(letters, status="open")) == 4
    assert len(select(letters, status="resolved")) == 1
    assert len(select(letters, status="all", reason="json.invalid")) == 2
    assert len(select(letters, status="all", file="bad.jsonl")) == 5
    assert select(letters, status="all", file="other.jsonl") == []


def test_export_gives_json_records_when_it_can_and_text_when_it_cannot(registry):
    letters, _ = merge(_letter_values(registry), [])
    by_reason = {dl.reason: export_line(dl) for dl in letters}
    assert isinstance(by_reason["json.not_object"]["record"], list)  # valid JSON, not an object
    assert isinstance(by_reason["json.duplicate_key"]["record"], str)  # both keys stay visible
    line = by_reason["json.invalid"]
    assert line["_deadletter"]["reason"] == "json.invalid"
    assert set(line["_deadletter"]) == {"id", "file", "line", "reason", "message"}


def _open_letter(registry, raw: bytes) -> DeadLetter:
    _, sink = ingest(registry, [raw])
    return DeadLetter.from_value(dead_letters(sink)[0])


def test_resubmit_plan_fixed_still_bad_and_already_resolved(registry):
    good = json.loads(GOOD[3])
    broken = dict(good, unit="320499")
    letter = _open_letter(registry, json.dumps(broken, ensure_ascii=False).encode())
    other = _open_letter(registry, b"{oops")
    resolved = DeadLetter.from_value(
        {**json.loads(json.dumps(export_line(other)["_deadletter"])), "id": "done"}
    )
    resolved = DeadLetter(**{**resolved.__dict__, "status": "resolved"})
    fixed = export_line(letter)
    fixed["record"]["unit"] = "320412"
    lines = [
        json.dumps(fixed, ensure_ascii=False).encode(),
        json.dumps(export_line(other)).encode(),  # not fixed
        json.dumps({"record": {}, "_deadletter": {"id": "done"}}).encode(),
        json.dumps(fixed, ensure_ascii=False).encode(),  # twice in the file
        b"not an export line",
    ]
    plan = plan_resubmit(
        lines, {letter.id: letter, other.id: other, "done": resolved}, registry, SETTINGS, now=AT
    )
    assert plan.resolved == [(letter.id, good["event_id"])]
    ((topic, key, value, headers),) = plan.events
    assert topic == "t.inspection" and key == b"320412" and json.loads(value)["unit"] == "320412"
    ((mark_key, mark),) = plan.marks
    assert mark_key == letter.id.encode()
    assert json.loads(mark) == {
        "id": letter.id,
        "status": "resolved",
        "event_id": good["event_id"],
        "resolved_at": "2024-12-20T09:30:00+08:00",
    }
    assert plan.skipped == ["done", letter.id]
    assert [(n, r) for n, _, r, _ in plan.still_bad] == [
        (2, "json.invalid"),
        (5, "resubmit.format"),
    ]
    assert plan.exit_code == ExitCode.REJECTED


def test_resubmit_unknown_id_is_reported(registry):
    line = json.dumps({"record": json.loads(GOOD[0]), "_deadletter": {"id": "nope"}}).encode()
    plan = plan_resubmit([line], {}, registry, SETTINGS)
    assert plan.still_bad[0][2] == "resubmit.unknown_id" and not plan.events


def test_dead_letter_record_without_a_file():
    from contracts.errors import ValidationError

    err = ValidationError("unit", "1", "bad", reason="unit.format")
    record = dead_letter_record(b"{}", None, None, err, origin="stream", rejected_at=AT)
    assert record["file"] is None and record["line"] is None and record["origin"] == "stream"


def test_commands_are_registered_in_the_cli():
    from pipeline import cli

    for name in ("ingest", "deadletters", "bench"):
        assert f"pipeline.commands.{name}" in cli.COMMAND_MODULES


def test_missing_file_fails_before_sending_anything(tmp_path, monkeypatch, capsys):
    from pipeline import cli

    monkeypatch.setenv("ARREARS_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    assert cli.main(["ingest", str(tmp_path / "nope.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "nope.jsonl" in err and "nothing was sent" in err


def test_bad_arguments_exit_2():
    from pipeline import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["deadletters", "list", "--status", "maybe"])
    assert exit_.value.code == 2
