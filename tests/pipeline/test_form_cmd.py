"""`arrears form`: never "complete" while the workers are behind the log's end (no broker
here: the workers' answer and the log's end are stood in for)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.cli import main
from pipeline.commands import form as form_cmd
from streams.live import Live
from tests.pipeline.cli_kit import assert_documented


@pytest.mark.parametrize(("end", "behind"), [(5, 0), (8, 3)])
def test_form_reports_the_records_behind_the_log_end(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], end: int, behind: int
) -> None:
    live = Live(
        own={("320412", "total.employers"): 2},
        offsets={"t.inspection": {0: 5}},
        events=5,
        workers=["w1"],
    )

    def gather(*_: Any, **__: Any) -> Live:
        return live

    monkeypatch.setattr(form_cmd, "gather", gather)
    monkeypatch.setattr(form_cmd, "bootstrap_servers", lambda _settings: "127.0.0.1:1")
    monkeypatch.setattr(form_cmd, "log_end", lambda *_: {"t.inspection": {0: end}})
    assert main(["form", "--unit", "320400", "--json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert_documented("form", page)
    assert page["complete"] is (behind == 0) and page["records_behind_log_end"] == behind
    assert main(["form", "--unit", "320400"]) == 0
    err = capsys.readouterr().err
    assert ("not complete" in err) is bool(behind) and (f"{behind:,} records" in err) is bool(
        behind
    )


def test_no_worker_is_said_within_seconds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    import time

    monkeypatch.setenv("ARREARS_STATE_DIR", str(tmp_path))
    started = time.monotonic()
    assert main(["form", "--unit", "320400", "--timeout", "30"]) == 1
    assert time.monotonic() - started < 5  # not the 30 s of --timeout
    err = capsys.readouterr().err
    assert "no `arrears worker` is running" in err and "registered in" in err


def test_a_worker_that_never_answers_is_named_before_the_timeout_ends(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """The form says on stderr which worker does not answer and where it looked, then after
    --timeout fails naming it (the notice's timing is tests/streams/test_live_gather.py's)."""
    from infra.settings import Settings
    from tests.streams.worker_kit import silent_worker

    monkeypatch.setenv("ARREARS_STATE_DIR", str(tmp_path))
    with silent_worker(Settings.from_env()) as port:
        assert main(["form", "--unit", "320400", "--timeout", "3"]) == 1
    err = " ".join(capsys.readouterr().err.split())  # rich wraps it at 80 columns
    waiting, _, failed = err.partition("arrears: error:")
    assert "not complete yet" in waiting and "worker silent does not answer" in waiting
    assert f":{port}/own/" in waiting and "registers its web port there" in waiting
    assert "not complete after 3s" in failed and "worker silent does not answer" in failed
