"""`arrears check` and `arrears submit` on snapshot directories: exit codes, outputs, the gate."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from contracts.quality.catalogue import CHECK_BY_ID
from pipeline.cli import main
from pipeline.errors import ExitCode
from tests.quality import kit
from tests.quality.test_expectations import bump, clean_cells


@pytest.fixture
def campaign(tmp_path: Path) -> dict[str, Path]:
    """A clean snapshot, its archive and an empty dead-letter file on disk."""
    events = kit.clean_events()
    frame = kit.archive_frame(events)
    archive = kit.write_archive(tmp_path, frame)
    offsets = kit.end_offsets(frame)
    clean = kit.write_snapshot(tmp_path, clean_cells(), kit.meta("snap-clean", offsets=offsets))
    broken = kit.write_snapshot(
        tmp_path,
        bump(clean_cells(), "320412", "total.employers", 1),
        kit.meta("snap-broken", offsets=offsets),
    )
    letters = tmp_path / "deadletters.jsonl"
    letters.write_text("")
    return {"clean": clean, "broken": broken, "archive": archive, "letters": letters}


def args(c: dict[str, Path], which: str, *extra: str) -> list[str]:
    return [
        str(c[which]),
        "--archive",
        str(c["archive"]),
        "--dead-letters",
        str(c["letters"]),
        *extra,
    ]


class _Rows(HTMLParser):
    """The Data Docs validation tables: per row, its cell texts and the status icon's classes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str]] = []
        self._text: list[str] = []
        self._icons: list[str] = []
        self._in_row = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._in_row, self._text, self._icons = True, [], []
        elif tag == "i" and self._in_row:
            self._icons.append(dict(attrs).get("class") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._in_row:
            self.rows.append((" ".join(self._icons), " ".join(self._text)))
            self._in_row = False

    def handle_data(self, data: str) -> None:
        if self._in_row and data.strip():
            self._text.append(data.strip())


def docs_rows(docs: Path) -> list[tuple[str, str]]:
    parser = _Rows()
    for page in sorted((docs / "validations").rglob("*.html")):
        parser.feed(page.read_text("utf-8"))
    return parser.rows


def test_check_passes_a_clean_snapshot_and_writes_its_outputs(
    campaign: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", *args(campaign, "clean", "--previous", str(campaign["clean"]))]) == 0
    out = capsys.readouterr().out
    assert "passed" in out and "snapshot.total_is_sum_of_rows" in out
    result = json.loads((campaign["clean"] / "quality" / "check-result.json").read_text())
    assert result["passed"] is True and result["critical_failures"] == []
    assert {o["status"] for o in result["outcomes"]} == {"passed"}
    assert result["event_rows"] == 70 and len(result["cells_sha256"]) == 64
    index = campaign["clean"] / "quality" / "data_docs" / "index.html"
    assert index.is_file() and str(index) in out


def test_check_fails_with_exit_6_and_docs_show_the_failed_expectation(
    campaign: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["check", *args(campaign, "broken", "--previous", str(campaign["clean"]))])
        == ExitCode.CRITICAL
    )
    out = capsys.readouterr().out
    assert "FAILED" in out and "320412" in out
    docs = campaign["broken"] / "quality" / "data_docs"
    rows = docs_rows(docs)
    failed = [text for icons, text in rows if "fa-times" in icons]
    passed = [text for icons, text in rows if "fa-check" in icons]
    assert len(failed) == 1 and "[critical] snapshot.total_is_sum_of_rows" in failed[0]
    assert "320412" in failed[0]  # the observed value names the offending unit
    assert any("snapshot.rollup_is_own_plus_children" in t for t in passed)
    # every expectation of the run is on a page, by name
    assert sum("[critical]" in t or "[warning]" in t for _, t in rows) == len(CHECK_BY_ID)
    index = (docs / "index.html").read_text("utf-8")
    assert "arrears.cells" in index and "validations/arrears/cells" in index


def test_warnings_do_not_fail_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = [
        e for e in kit.clean_events() if not (e.type == "arrears.resolved" and e.unit == "320412")
    ]
    frame = kit.archive_frame(events)
    snap = kit.write_snapshot(
        tmp_path, kit.cells_from(kit.own_figures(events)), kit.meta(offsets=kit.end_offsets(frame))
    )
    archive = kit.write_archive(tmp_path, frame)
    assert main(["check", str(snap), "--archive", str(archive), "--dead-letters", "none"]) == 0
    out = capsys.readouterr().out
    assert "1 warning(s)" in out and "C-320412" in out  # the open case, by its case id
    # the same from the machine-readable result
    result = json.loads((snap / "quality" / "check-result.json").read_text(encoding="utf-8"))
    assert result["passed"] and result["warnings"] == ["snapshot.no_open_cases"]
    assert "C-320412" in json.dumps(result["outcomes"], ensure_ascii=False)


def test_gate_refuses_a_critical_failure_and_accepts_a_clean_snapshot(
    campaign: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = campaign["clean"].parent
    assert main(["submit", *args(campaign, "broken"), "--unit", "320400"]) == ExitCode.CRITICAL
    out = capsys.readouterr().out
    assert "refused" in out and "snapshot.total_is_sum_of_rows" in out
    assert not (folder / "submitted.json").exists()

    assert main(["submit", *args(campaign, "clean"), "--unit", "320400"]) == 0
    body = json.loads((folder / "submitted.json").read_text())
    entry = body["units"]["320400"]
    assert entry["snapshot"] == "snap-clean" and entry["replaces"] is None
    assert (folder / entry["check_result"]).is_file() and (folder / entry["data_docs"]).is_file()
    assert json.loads((folder / entry["check_result"]).read_text())["passed"] is True


def test_resubmission_replaces_and_names_the_earlier_snapshot(
    campaign: dict[str, Path], tmp_path: Path
) -> None:
    meta = json.loads((campaign["clean"] / "meta.json").read_text())
    second = kit.write_snapshot(tmp_path, clean_cells(), {**meta, "snapshot_id": "snap-2"})
    common = ["--archive", str(campaign["archive"]), "--dead-letters", "none"]
    assert main(["submit", str(campaign["clean"]), *common]) == 0
    assert main(["submit", str(second), *common]) == 0
    body = json.loads((second.parent / "submitted.json").read_text())
    assert body["units"]["320400"]["snapshot"] == "snap-2"
    assert body["units"]["320400"]["replaces"] == "snap-clean"


def test_previous_snapshot_and_bad_arguments(
    campaign: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--archive", str(campaign["archive"]), "--dead-letters", "none"]
    assert (
        main(["check", str(campaign["clean"]), "--previous", str(campaign["clean"]), *common]) == 0
    )
    # an unreadable snapshot named on the command line: 2, as `arrears report` says it
    assert main(["check", str(tmp_path / "nope"), *common]) == 2
    assert "no snapshot" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nope"), "--unit", "320400"]) == 2
    assert main(["check", str(campaign["clean"]), "--unit", "329999", *common]) == 2
    assert (
        main(
            [
                "check",
                str(campaign["clean"]),
                "--dead-letters",
                "missing.jsonl",
                "--archive",
                str(campaign["archive"]),
            ]
        )
        == 2
    )


def test_dead_letters_file_counts_open_letters(
    campaign: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.dumps(r) for r in kit.dead_letters(2).to_dicts()]
    campaign["letters"].write_text("\n".join(lines) + "\n")
    assert main(["check", *args(campaign, "clean")]) == 0
    result = json.loads((campaign["clean"] / "quality" / "check-result.json").read_text())
    assert result["warnings"] == ["dead_letters.open_warning"]
    assert "dl-0" in capsys.readouterr().out


def test_submit_reuses_the_check_written_for_the_same_inputs_and_keeps_its_previous(
    campaign: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    result_file = campaign["clean"] / "quality" / "check-result.json"
    assert main(["check", *args(campaign, "clean", "--previous", str(campaign["clean"]))]) == 0
    checked = json.loads(result_file.read_text())
    capsys.readouterr()

    assert main(["submit", *args(campaign, "clean")]) == 0  # no --previous
    out = capsys.readouterr().out
    assert "reusing the check of" in out and "submitted" in out
    assert json.loads(result_file.read_text()) == checked  # not overwritten
    entry = json.loads((campaign["clean"].parent / "submitted.json").read_text())["units"]
    assert entry["320400"]["previous"] == checked["previous"]
    assert entry["320400"]["verdict"] == "snap-clean/quality/index.html"

    # other dead letters: the check runs again, still against the previous snapshot
    lines = [json.dumps(r) for r in kit.dead_letters(1).to_dicts()]
    campaign["letters"].write_text("\n".join(lines) + "\n")
    assert main(["submit", *args(campaign, "clean")]) == 0
    assert "reusing" not in capsys.readouterr().out
    rerun = json.loads(result_file.read_text())
    assert rerun["previous"] == checked["previous"] and rerun["checked_at"] >= checked["checked_at"]
    assert rerun["outcomes"] != checked["outcomes"]
    fall = next(o for o in rerun["outcomes"] if o["check"] == "snapshot.no_fall_against_previous")
    assert fall["status"] == "passed"


def test_check_and_submit_json_and_the_snapshot_listing(
    campaign: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.pipeline.cli_kit import assert_documented

    assert main(["check", *args(campaign, "clean"), "--json", "--quiet"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert_documented("check", checked)
    assert checked["passed"] is True
    assert main(["submit", *args(campaign, "clean"), "--json", "--quiet"]) == 0
    submitted = json.loads(capsys.readouterr().out)
    assert_documented("submit", submitted)
    assert submitted["submitted"] is True and submitted["entry"]["snapshot"] == "snap-clean"
    root = campaign["clean"].parent.parent
    assert main(["snapshots", "--root", str(root), "--json"]) == 0
    listed = {s["path"]: s for s in json.loads(capsys.readouterr().out)}
    clean = listed[str(campaign["clean"])]
    assert (clean["checked"], clean["submitted_for"]) == ("passed", [submitted["unit"]])
