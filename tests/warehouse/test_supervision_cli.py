"""`arrears hotspots` and `arrears ledger` on the hand-made log of test_supervision: from a
snapshot that stores them (and `replay --verify` checking them), from --cutoff, as json,
80-column tables, xlsx and csv; and the errors a user meets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docx
import openpyxl
import polars as pl
import pytest
from rich.cells import cell_len

from tests.contracts.eventkit import BUILDER, FACTORY, REPAIR, raw
from tests.pipeline.cli_kit import assert_documented
from tests.warehouse.logkit import Log
from tests.warehouse.test_supervision import REGISTRY, RULES_TOML, story
from warehouse.archive_files import archive_records
from warehouse.snapshot import list_snapshots

Cli = Callable[..., tuple[int, str, str]]


def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[Any]) -> dict[str, str]:
    """A state dir whose archive holds `lines` (the events, or raw JSON text), and a campaign
    file with the test's supervision rules."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARREARS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ARREARS_TOPIC_PREFIX", "t.")
    monkeypatch.delenv("ARREARS_CONFIG", raising=False)
    log = Log("t.")
    log.append(lines)
    archive_records(tmp_path / "state" / "archive", log.records, REGISTRY)
    campaign = Path(__file__).parents[2] / "contracts" / "campaign-2024.toml"
    path = tmp_path / "campaign.toml"
    path.write_text(campaign.read_text("utf-8").split("[supervision]")[0] + RULES_TOML, "utf-8")
    return {"campaign": str(path), "root": str(tmp_path / "state" / "snapshots")}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return _state(tmp_path, monkeypatch, story())


def _snapshot(cli: Cli, env: dict[str, str]) -> str:
    code, out, err = cli(
        "snapshot", "--cutoff", "2024-12-31", "--from", "archive", "--quiet",
        "--campaign", env["campaign"],
    )  # fmt: skip
    assert code == 0, err
    (snap,) = list_snapshots(Path(env["root"]))
    return str(snap.path)


def test_a_snapshot_stores_its_hotspots_and_ledger_and_replay_verifies_them(
    cli: Cli, env: dict[str, str]
) -> None:
    path = Path(_snapshot(cli, env))
    assert {p.name for p in path.iterdir()} >= {
        "cells.parquet",
        "hotspots.parquet",
        "ledger.parquet",
    }

    def verify() -> tuple[int, str, str]:
        argv = ("--verify", str(path), "--from", "archive", "--quiet")
        return cli("replay", *argv, "--campaign", env["campaign"])

    meta = json.loads((path / "meta.json").read_text("utf-8"))
    assert meta["supervision"]["window_days"] == 7
    code, out, err = verify()
    assert code == 0, out + err
    assert "its hotspots and ledger too" in out
    ledger = pl.read_parquet(path / "ledger.parquet")
    ledger.with_columns(pl.col("verified_fen") + 1).write_parquet(path / "ledger.parquet")
    code, out, _ = verify()
    assert code == 4
    assert "MISMATCH: ledger.parquet: 2 row(s) only in the snapshot" in out


def test_the_ledger_from_the_snapshot_as_json_with_owners(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    snap = _snapshot(cli, env)
    owners = tmp_path / "owners.csv"
    owners.write_text(f"id,owner\nP-GOV-1,张三\n{FACTORY['id']},李四\n", "utf-8")
    code, out, err = cli(
        "ledger", snap, "--unit", "320400", "--json", "--owners", str(owners),
        "--campaign", env["campaign"],
    )  # fmt: skip
    assert code == 0, err
    body = json.loads(out)
    assert_documented("ledger", body)
    assert (body["open_lines"], body["open_cases"]) == (1, 1)
    assert "(stored)" in body["origin"]
    first, second = body["lines"]
    assert (first["id"], first["status"], first["owner"], first["hotspot"]) == (
        "P-GOV-1", "open", "张三", True,
    )  # fmt: skip
    assert (first["verified_wan"], first["working_days_left"], first["open_cases"]) == (
        "10.000000", 19, ["C-2"],
    )  # fmt: skip
    assert (second["id"], second["status"], second["owner"]) == (FACTORY["id"], "销号", "李四")
    assert second["verified_wan"] == "3.000000" and second["employer_id"] == FACTORY["id"]
    code, out, _ = cli("ledger", snap, "--unit", "320400", "--json", "--open")
    assert [line["id"] for line in json.loads(out)["lines"]] == ["P-GOV-1"]


def test_the_tables_fit_80_columns_and_the_cutoff_reads_the_archive(
    cli: Cli, env: dict[str, str]
) -> None:
    code, out, err = cli(
        "hotspots", "--cutoff", "2024-12-31", "--unit", "320400", "--campaign", env["campaign"]
    )
    assert code == 0, err
    assert max(cell_len(line) for line in out.splitlines()) <= 80
    assert "武进区" in out and "量大 增幅快" in out and "新增" in out
    code, out, err = cli(
        "ledger", "--cutoff", "2024-12-31", "--unit", "320412", "--campaign", env["campaign"]
    )
    assert code == 0, err
    assert max(cell_len(line) for line in out.splitlines()) <= 80
    assert "销号" in out and "*某安置房项目" in out and "未结案件 1 件" in out


def test_hotspots_as_json_xlsx_and_csv(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    snap = _snapshot(cli, env)
    code, out, err = cli(
        "hotspots", snap, "--unit", "320412", "--json", "--campaign", env["campaign"]
    )
    assert code == 0, err
    body = json.loads(out)
    assert_documented("hotspots", body)
    assert body["thresholds"] == {
        "many_leads": 3,
        "fast_growth_pct": 100,
        "fast_growth_min_leads": 2,
    }
    by_kind = {(r["kind"], r["rank"]): r for r in body["hotspots"]}
    assert by_kind[("unit", 1)]["leads"] == 3 and by_kind[("unit", 1)]["hotspot"] is True
    assert by_kind[("project", 1)]["claimed_wan"] == "0.700000"
    assert by_kind[("employer", 1)]["id"] == BUILDER["id"]
    out_xlsx = tmp_path / "hot.xlsx"
    code, _, err = cli("hotspots", snap, "--unit", "320412", "--out", str(out_xlsx))
    assert code == 0, err
    sheet = openpyxl.load_workbook(out_xlsx).active
    assert sheet is not None
    assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A2:")
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
    assert [c.value for c in sheet[2]][:4] == ["类别", "排名", "代码", "名称"]
    out_csv = tmp_path / "ledger.csv"
    code, _, err = cli("ledger", snap, "--unit", "320412", "--out", str(out_csv))
    assert code == 0, err
    lines = out_csv.read_text("utf-8").splitlines()
    assert lines[0].startswith("unit,kind,id,name") and len(lines) == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (("ledger", "--unit", "320412"), "give a SNAPSHOT or --cutoff DATE"),
        (("ledger", "--cutoff", "2024-12-31", "--unit", "329999"), "329999"),
        (("hotspots", "--cutoff", "2024-12-31", "--unit", "320412", "--window", "x"), "--window"),
        (("hotspots", "--cutoff", "2024-12-31", "--unit", "320412", "--top", "0"), "--top"),
        (("hotspots", "--cutoff", "2024-12-31", "--unit", "320412", "--out", "h.pdf"), ".xlsx"),
        (("ledger", "--cutoff", "2024-12-31", "--unit", "320412", "--owners", "no.csv"), "no.csv"),
        (("ledger", "nowhere", "--unit", "320412"), "no snapshot 'nowhere'"),
        (("summary", "nowhere", "--unit", "320412", "--out", "s.pdf"), ".docx or a .md"),
        (("summary", "nowhere", "--unit", "320412", "--out", "s.md"), "no snapshot 'nowhere'"),
    ],
)
def test_clear_errors(cli: Cli, env: dict[str, str], argv: tuple[str, ...], message: str) -> None:
    code, _, err = cli(*argv)
    assert code == 2 and message in err


def test_the_summary_docx_holds_the_snapshots_figures(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    snap = _snapshot(cli, env)
    out = tmp_path / "summary.docx"
    code, _, err = cli(
        "summary", snap, "--previous", snap, "--unit", "320400", "--out", str(out),
        "--campaign", env["campaign"],
    )  # fmt: skip
    assert code == 0, err
    doc = docx.Document(str(out))
    headings = [
        p.text for p in doc.paragraphs if p.style is not None and p.style.name == "Heading 1"
    ]
    assert headings == ["一、开展情况", "二、取得成效", "三、存在问题", "四、意见建议"]
    figures = {
        row.cells[0].text: (row.cells[1].text, row.cells[2].text)
        for table in doc.tables
        for row in table.rows[1:]
    }
    cells = pl.read_parquet(Path(snap) / "cells.parquet").filter(
        (pl.col("unit") == "320400") & (pl.col("scope") == "rollup")
    )
    value = dict(zip(cells["cell"].to_list(), cells["value"].to_list(), strict=True))
    # the snapshot's exact values, rounded as on the form, and the same figures by hand
    assert figures["检查用人单位"] == (str(value["total.employers"]), "户") == ("2", "户")
    assert figures["涉及职工"] == ("0.0350", "万人") and value["total.workers"] == 350
    assert figures["其中现场检查用人单位"] == ("1", "户")
    assert figures["其中网络（书面）检查用人单位"] == ("1", "户")
    assert figures["接收欠薪线索（重复线索合并计）"] == ("5", "件")  # L-2 merged into L-1
    assert figures["其中12345热线"] == ("5", "件")
    assert figures["检查工程建设项目"] == ("1", "个")
    assert figures["解决欠薪问题"] == (str(value["total.resolved"]), "件") == ("1", "件")
    assert figures["涉及金额"] == ("3.00", "万元") and value["total.resolved_amount"] == 3_000_000
    assert figures["其中劳动保障监察解决"] == ("1", "件")
    assert figures["责令改正"] == ("1", "件") == (str(value["total.rectification_orders"]), "件")
    assert figures["查实未结欠薪案件"] == ("1", "件") and value["aux.open_cases"] == 1
    assert figures["未结案件查实欠薪金额"] == ("10.00", "万元")
    assert figures["较上次新增解决欠薪问题"] == ("0", "件")
    notes = "\n".join(p.text for p in doc.paragraphs)
    assert "重点：武进区" in notes and "尚未运行质量检查" in notes
    md = tmp_path / "summary.md"
    code, _, err = cli("summary", snap, "--unit", "320400", "--out", str(md))
    assert code == 0, err
    text = md.read_text("utf-8")
    assert "| 查实未结欠薪案件 | 1 | 件 |" in text and "### （一）健全长效机制" in text


def test_the_summary_reads_the_stored_figures_and_without_them_the_archive(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    """A snapshot cut before summary.parquet existed gets the same draft, from the archive."""
    snap = Path(_snapshot(cli, env))
    stored, rebuilt = tmp_path / "stored.md", tmp_path / "rebuilt.md"
    assert cli("summary", str(snap), "--unit", "320400", "--out", str(stored))[0] == 0
    (snap / "summary.parquet").unlink()
    assert cli("summary", str(snap), "--unit", "320400", "--out", str(rebuilt))[0] == 0
    assert rebuilt.read_text("utf-8") == stored.read_text("utf-8")
    assert "| 其中现场检查用人单位 | 1 | 户 |" in stored.read_text("utf-8")


def test_the_checks_open_cases_are_the_ledgers(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    snap = _snapshot(cli, env)
    code, out, err = cli("check", snap, "--dead-letters", "none")
    assert code in (0, 6), out + err
    result = json.loads((Path(snap) / "quality" / "check-result.json").read_text("utf-8"))
    (outcome,) = [o for o in result["outcomes"] if o["check"] == "snapshot.no_open_cases"]
    listed = {(e["unit"], e["case_id"]) for e in outcome["evidence"]}
    code, out, _ = cli("ledger", snap, "--unit", "320000", "--json", "--open")
    ledger = {(line["unit"], c) for line in json.loads(out)["lines"] for c in line["open_cases"]}
    assert listed == ledger == {("320412", "C-2")}
    verdict = (Path(snap) / "quality" / "index.html").read_text("utf-8")
    assert "查实未结案件 open verified cases</dt><dd>1; 19 working days" in verdict
    md = tmp_path / "s.md"
    assert cli("summary", snap, "--unit", "320400", "--out", str(md))[0] == 0
    assert "snapshot.no_open_cases" in md.read_text("utf-8")  # the check's warnings, listed


def _more_cases() -> list[Any]:
    """Cases where a second reading of the raw records would part from the Ledger's: a case
    id the record spells with JSON escapes; a resolution retracted (the case is open again);
    a verification resent, identical (counted once); a case verified and resolved on the
    same day; and one resolved only after the campaign window."""
    on = "+08:00"
    escaped = raw(
        "arrears.verified",
        {"case_id": "C-张", "employer": REPAIR, "workers": 2, "amount": "800.00"},
        event_id="v-esc",
        at=f"2024-12-21T10:00:00{on}",
    )
    again = raw(
        "arrears.verified",
        {"case_id": "C-5", "employer": REPAIR, "workers": 4, "amount": "4000.00"},
        event_id="v-5",
        at=f"2024-12-22T10:00:00{on}",
    )

    def resolved(case: str, eid: str, at: str, amount: str, workers: int) -> dict[str, Any]:
        payload = {
            "case_id": case,
            "employer": REPAIR,
            "workers": workers,
            "amount": amount,
            "channel": "inspection",
            "new_employment_form": False,
        }
        return raw("arrears.resolved", payload, event_id=eid, at=at)

    same_day = raw(
        "arrears.verified",
        {"case_id": "C-6", "employer": REPAIR, "workers": 1, "amount": "100.00"},
        event_id="v-6",
        at=f"2024-12-23T09:00:00{on}",
    )
    return [
        json.dumps(escaped, ensure_ascii=True),  # "C-\u5f20" in the raw line
        again,
        dict(again),  # an identical resend
        resolved("C-5", "r-5", f"2024-12-24T10:00:00{on}", "4000.00", 4),
        raw(
            "event.retracted",
            {"retracts": "r-5", "reason": "paid to the wrong workers"},
            at=f"2024-12-25T10:00:00{on}",
        ),
        same_day,
        resolved("C-6", "r-6", f"2024-12-23T17:00:00{on}", "100.00", 1),
        resolved("C-2", "r-2-late", f"2025-03-01T10:00:00{on}", "100000.00", 20),
    ]


def test_one_rule_for_open_cases_the_check_the_ledger_calendar_and_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    """The no_open_cases expectation's list is the ledger's open cases, case by case, on a
    log with a corrected case (C-1), a retracted verification (C-3), a case resolved after
    the cutoff (C-2) and the cases of `_more_cases`; the calendar, the verdict page and the
    summary count the same."""
    env = _state(tmp_path, monkeypatch, [*story(), *_more_cases()])
    expected = {("320412", "C-2"), ("320412", "C-张"), ("320412", "C-5")}
    for cutoff, still in (("2024-12-31", expected), ("final", expected - {("320412", "C-2")})):
        code, _, err = cli(
            "snapshot", "--cutoff", cutoff, "--from", "archive", "--quiet", "--label", cutoff,
            "--campaign", env["campaign"],
        )  # fmt: skip
        assert code == 0, err
        (snap,) = [s for s in list_snapshots(Path(env["root"])) if s.meta.get("label") == cutoff]
        code, out, err = cli("check", str(snap.path), "--dead-letters", "none")
        assert code in (0, 6), out + err
        result = json.loads((snap.path / "quality" / "check-result.json").read_text("utf-8"))
        (outcome,) = [o for o in result["outcomes"] if o["check"] == "snapshot.no_open_cases"]
        listed = {(e["unit"], e["case_id"]) for e in outcome["evidence"]}
        code, out, _ = cli("ledger", str(snap.path), "--unit", "320000", "--json", "--open")
        lines = json.loads(out)["lines"]
        ledger = {(line["unit"], c) for line in lines for c in line["open_cases"]}
        assert listed == ledger == still, cutoff
        cells = pl.read_parquet(snap.path / "cells.parquet").filter(
            (pl.col("scope") == "own") & (pl.col("cell") == "aux.open_cases")
        )
        assert cells["value"].sum() == len(still)
        verdict = (snap.path / "quality" / "index.html").read_text("utf-8")
        assert f"open verified cases</dt><dd>{len(still)}; " in verdict
        code, out, _ = cli("calendar", "--snapshot", str(snap.path), "--unit", "320400")
        assert f"): {len(still)} on " in " ".join(out.split())
        md = tmp_path / f"summary-{cutoff}.md"
        assert cli("summary", str(snap.path), "--unit", "320400", "--out", str(md))[0] == 0
        assert f"| 查实未结欠薪案件 | {len(still)} | 件 |" in md.read_text("utf-8")


def test_the_calendar_counts_the_open_cases_against_the_working_days_left(
    cli: Cli, env: dict[str, str]
) -> None:
    snap = _snapshot(cli, env)
    code, out, err = cli(
        "calendar", "--today", "2025-01-02", "--snapshot", snap, "--unit", "320400"
    )
    assert code == 0, err
    text = " ".join(out.split())
    assert "320400, cutoff 2024-12-31T23:59:59+08:00): 1 on 1 ledger lines" in text
    assert "18 working days from 2025-01-02 to the deadline 2025-01-28" in text
