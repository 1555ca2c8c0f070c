"""Closing a dead letter without a fix: `arrears deadletters dismiss`, and the gate after it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.settings import Settings
from pipeline.cli import main
from pipeline.ingest.deadletters import DeadLetter, merge, plan_dismiss
from tests.quality.test_offline import run_check, verdict, write_campaign


def letter(dl_id: str) -> bytes:
    return json.dumps({"id": dl_id, "original": "{}", "reason": "json.invalid"}).encode()


def dismissal(dl_id: str) -> tuple[bytes, bytes]:
    mark = {
        "id": dl_id,
        "status": "dismissed",
        "dismissed_by": "wang",
        "dismissed_at": "2024-12-30T09:00:00+08:00",
        "dismissal": "source confirms junk",
    }
    return dl_id.encode(), json.dumps(mark).encode()


def test_merge_applies_dismissal_marks_with_who_when_why() -> None:
    letters, unreadable = merge([letter("a"), letter("b")], [dismissal("a")])
    assert unreadable == 0
    a, b = letters
    assert (a.status, a.dismissed_by, a.dismissal) == ("dismissed", "wang", "source confirms junk")
    assert b.status == "open" and b.dismissed_by is None


def test_plan_dismiss_marks_open_letters_only_and_needs_a_reason() -> None:
    letters, _ = merge([letter("a"), letter("b"), letter("c")], [dismissal("b")])
    by_id = {dl.id: dl for dl in letters}
    plan = plan_dismiss(["a", "b", "zz", "a"], by_id, by="li", why=" junk ", at="T")
    assert plan.dismissed == ["a"] and plan.skipped == [("b", "dismissed")]
    assert plan.unknown == ["zz"]
    key, value = plan.marks[0]
    assert key == b"a" and json.loads(value) == {
        "id": "a",
        "status": "dismissed",
        "dismissed_by": "li",
        "dismissed_at": "T",
        "dismissal": "junk",
    }
    with pytest.raises(ValueError, match="needs a reason"):
        plan_dismiss(["a"], by_id, by="li", why="  ", at="T")


class _Sink:
    sent: list[tuple[str, bytes, bytes]] = []

    def __init__(self, _producer: object) -> None:
        pass

    def send(self, topic: str, key: bytes, value: bytes, _headers: list[Any]) -> None:
        self.sent.append((topic, key, value))

    def close(self) -> None:
        pass


def test_dismiss_command_writes_marks_to_the_status_topic(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    letters: list[DeadLetter] = merge([letter("a"), letter("b")], [])[0]
    module = "pipeline.commands.deadletters"
    monkeypatch.setattr(f"{module}._load", lambda: (Settings(), "local", letters))
    monkeypatch.setattr(f"{module}.make_producer", lambda *a, **k: object())
    monkeypatch.setattr(f"{module}.KafkaSink", _Sink)
    _Sink.sent = []
    code = main(["deadletters", "dismiss", "a", "--reason", "junk per source", "--by", "zhao"])
    assert code == 0
    assert "dismissed a by zhao: junk per source" in capsys.readouterr().out
    ((topic, key, value),) = _Sink.sent
    assert "status" in topic
    assert key == b"a" and json.loads(value)["dismissal"] == "junk per source"
    assert main(["deadletters", "dismiss", "nope", "--reason", "x"]) == 2
    with pytest.raises(SystemExit) as exit_:
        main(["deadletters", "dismiss", "a"])  # --reason is required
    assert exit_.value.code == 2


def test_dismissed_letters_do_not_count_toward_the_gate_and_are_listed(tmp_path: Path) -> None:
    c = write_campaign(tmp_path, broken=False, letters=2)
    rows = [json.loads(line) for line in c["letters"].read_text().splitlines()]
    for row in rows:
        row.update(
            status="dismissed",
            dismissed_by="wang",
            dismissed_at="2024-12-30T09:00:00+08:00",
            dismissal="source confirms junk",
        )
    c["letters"].write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run_check(c) == 0
    quality = c["snapshot"] / "quality"
    result = json.loads((quality / "check-result.json").read_text())
    assert result["warnings"] == [] and result["passed"] is True
    page = verdict(quality)
    assert page.first_heading.startswith("可以报送") and page.h1_class == "pass"
    letters_text = " ".join(page.sections["dead-letters"])
    assert "0 open, 2 dismissed" in letters_text
    assert (
        "dl-0" in letters_text and "wang" in letters_text and "source confirms junk" in letters_text
    )
