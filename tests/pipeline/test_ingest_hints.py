"""Input hints: JSON (not JSON Lines) is refused before anything is sent; empty input warns."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from contracts.registry import Registry
from infra.settings import Settings
from pipeline import cli
from pipeline.errors import ExitCode
from pipeline.ingest import Ingest, ListSink
from pipeline.ingest.hints import json_lines_problem, read_head

FIXTURES = Path(__file__).parent.parent / "fixtures"
GOOD = (FIXTURES / "good_events.jsonl").read_bytes()
EVENTS = [json.loads(line) for line in GOOD.splitlines()[:3]]
PRETTY_ARRAY = json.dumps(EVENTS, indent=2, ensure_ascii=False).encode()
PRETTY_OBJECTS = b"\n".join(json.dumps(e, indent=2).encode() for e in EVENTS) + b"\n"


class ReachedKafka(Exception):
    """Raised in place of connecting to Kafka: the run got past reading its inputs."""


@pytest.fixture
def no_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    """`arrears ingest` raises ReachedKafka where it would make its producer."""

    def make_producer(*_args: object, **_kwargs: object) -> None:
        raise ReachedKafka

    monkeypatch.setenv("ARREARS_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setattr("pipeline.commands.ingest.make_producer", make_producer)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (PRETTY_ARRAY, "it starts with `[`, a JSON array"),
        (json.dumps(EVENTS).encode() + b"\n", "it starts with `[`, a JSON array"),
        (b"\n  \n\xef\xbb\xbf  [\n" + GOOD, "it starts with `[`, a JSON array"),
        (PRETTY_OBJECTS, "its first record spans"),
        (b"\n\n" + PRETTY_OBJECTS, "its first record spans"),
        (b'{"event_id": "e1",\n "unit": "320412"}\n', "its first record spans 2 lines"),
    ],
)
def test_json_that_is_not_json_lines_is_named_with_how_to_convert(data: bytes, why: str) -> None:
    problem = json_lines_problem("cases.json", data)
    assert problem is not None
    assert problem.startswith("cases.json is JSON, not JSON Lines: " + why)
    assert "jq -c '.[]'" in problem and "cases.jsonl" in problem


def test_the_array_hint_gives_the_array_command_and_the_object_hint_the_object_one() -> None:
    array = json_lines_problem("a.json", PRETTY_ARRAY)
    objects = json_lines_problem("o.json", PRETTY_OBJECTS)
    assert array is not None and "`jq -c '.[]' a.json > a.jsonl`" in array
    assert objects is not None and "`jq -c . o.json > o.jsonl`" in objects
    assert f"spans {json.dumps(EVENTS[0], indent=2).count(chr(10)) + 1} lines" in objects


@pytest.mark.parametrize(
    "data",
    [
        GOOD,
        b"\n\n" + GOOD,
        b"",
        b"\n \n",
        b"not json\n" + GOOD,  # a bad first line is a dead letter like any other
        b'{"event_id": "e1", bogus\n' + GOOD,
        b'{"event_id": "e1", "unit": "3204\n12"}\n' + GOOD,  # a string cannot span lines
        b'{"event_id": "e1"} trailing\n' + GOOD,
        b"{\n",  # a lone brace at the end: a bad line, not a record over lines
        b'[{"event_id": "e1"}]\n' + GOOD,  # a first record that is no object, then records
        b'[{"event_id": "e1"}]\n\n' + GOOD,
    ],
)
def test_json_lines_and_bad_lines_in_it_are_not_refused(data: bytes) -> None:
    assert json_lines_problem("in.jsonl", data) is None


class _Pipe(io.BytesIO):
    """A pipe still being written: reading past `limit` bytes would block, so it fails."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(data)
        self.limit = limit

    def readline(self, size: int | None = -1) -> bytes:
        if self.tell() >= self.limit:
            raise AssertionError("read past the first record: a live pipe would block here")
        return super().readline(size)


def test_the_head_is_read_only_to_the_first_record_and_fed_again_whole() -> None:
    data = b"\n" + GOOD
    first_record_end = len(b"\n" + GOOD.split(b"\n")[0] + b"\n")
    pipe = _Pipe(data, first_record_end)
    head = read_head("<stdin>", pipe)
    assert head.problem is None and pipe.tell() == first_record_end
    pipe.limit = len(data) + 1
    assert b"".join(head.then(pipe)) == data


def test_a_pretty_printed_record_is_read_to_its_end_and_no_further() -> None:
    first = json.dumps(EVENTS[0], indent=2).encode() + b"\n"
    pipe = _Pipe(first + GOOD, len(first))
    head = read_head("-", pipe)
    assert head.problem is not None and "spans" in head.problem
    assert b"".join(head.lines) == first


def _feed(lines: list[bytes], name: str = "in.jsonl") -> Ingest:
    run = Ingest(Registry.load(), Settings(topic_prefix="t."), ListSink())
    run.feed(name, lines)
    return run


def test_an_empty_input_is_listed_as_empty_and_a_blank_only_one_too() -> None:
    assert _feed([], "empty.jsonl").summary.empty == ["empty.jsonl"]
    blank = _feed([b"\n", b"  \r\n"], "blank.jsonl").summary
    assert blank.empty == ["blank.jsonl"] and blank.as_dict()["empty_files"] == ["blank.jsonl"]
    run = Ingest(Registry.load(), Settings(topic_prefix="t."), ListSink())
    run.feed("a.jsonl", GOOD.splitlines(keepends=True))
    run.feed("b.jsonl", [])
    assert run.summary.empty == ["b.jsonl"] and run.summary.as_dict()["empty_files"] == ["b.jsonl"]
    assert _feed([b"not json\n"]).summary.empty == []


def _json_file(tmp_path: Path) -> Path:
    path = tmp_path / "cases.json"
    path.write_bytes(PRETTY_ARRAY)
    return path


@pytest.mark.usefixtures("no_kafka")
def test_ingest_refuses_a_json_file_before_connecting_to_kafka(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(GOOD)
    path = _json_file(tmp_path)
    assert cli.main(["ingest", "--quiet", str(good), str(path)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert f"{path} is JSON, not JSON Lines" in err
    assert f"jq -c '.[]' {path} > {tmp_path / 'cases.jsonl'}" in err
    assert "nothing was sent" in err


@pytest.mark.usefixtures("no_kafka")
def test_ingest_refuses_json_on_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PRETTY_OBJECTS)))
    assert cli.main(["ingest", "--quiet", "-"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "<stdin> is JSON, not JSON Lines: its first record spans" in err


@pytest.mark.usefixtures("no_kafka")
def test_ingest_of_json_lines_goes_on_to_kafka(tmp_path: Path) -> None:
    """The control: the same run with JSON Lines files (one empty) gets as far as Kafka."""
    good = tmp_path / "good.jsonl"
    good.write_bytes(GOOD)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(ReachedKafka):
        cli.main(["ingest", "--quiet", str(good), str(tmp_path / "empty.jsonl")])


def test_a_large_array_on_one_line_is_refused_and_a_bad_first_record_is_not() -> None:
    events = [dict(EVENTS[0], event_id=f"e{i}") for i in range(300)]
    one_line = json.dumps(events).encode() + b"\n"
    assert len(one_line) > 100_000  # over a record's limit: still judged whole
    head = read_head("big.json", io.BytesIO(one_line))
    assert head.problem is not None and "a JSON array" in head.problem
    then = b'[{"event_id": "e1"}]\n\n' + GOOD
    pipe = _Pipe(then, len(then) - len(GOOD) + len(GOOD.split(b"\n")[0]) + 1)
    head = read_head("in.jsonl", pipe)
    assert head.problem is None and len(head.lines) == 3  # read to the next record only
