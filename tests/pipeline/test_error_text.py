"""`arrears: error:` lines: one line into a pipe, wrapped between words on a terminal."""

from __future__ import annotations

import io

import pytest

from pipeline.cli import error_text
from pipeline.help import for_stream

MESSAGE = (
    "cannot reach Kafka at 127.0.0.1:9 (KafkaConnectionError: connection refused: no broker "
    "listens there); is the broker up? (`arrears infra status`); nothing was sent"
)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_into_a_pipe_the_error_is_one_line() -> None:
    assert error_text(MESSAGE, io.StringIO()) == f"arrears: error: {MESSAGE}"


def test_on_an_80_column_terminal_it_wraps_between_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = error_text(MESSAGE + "\nsecond line", _Terminal())
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].startswith("arrears: error: ") and lines[1].startswith("  ")
    assert " ".join(part.strip() for part in lines) == f"arrears: error: {MESSAGE} second line"
    assert lines[-1] == "second line"  # the message's own lines stay lines


def test_the_workers_status_line_wraps_between_words_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `arrears worker` prints its lines through for_stream: cut at the 80th column, a
    # terminal split "court" and "complaint" mid-word
    monkeypatch.setenv("COLUMNS", "80")
    line = (
        "worker vm-1: partitions 0,1,2,3,4,5; 12,000 events applied; lag complaint 0, "
        "court 0, inspection 0, mediation 0; last commit 23:48:17"
    )
    assert for_stream(line, io.StringIO()) == line
    lines = for_stream(line, _Terminal()).splitlines()
    assert len(lines) == 2 and all(len(part) <= 80 for part in lines), lines
    assert " ".join(part.strip() for part in lines) == line
