"""The December story's supervision steps (issue 17): the restated snapshot's hotspots (are
the generator's lead waves found?), the ledger's open cases against the form's, and the
final report's draft."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.flows.demo_run import Demo, StepFailed


def supervision_steps(
    demo: Demo, restated: Path, previous: Path, waves: list[dict[str, Any]]
) -> None:
    """hotspots, ledger --open and summary from the restated snapshot; each must agree with
    the snapshot's own figures (the open cases of the form's aux.open_cases cell, which the
    ledger and the draft both show)."""
    hot = json.loads(
        demo.arrears(
            "hotspots", "hotspots", str(restated), "--unit", demo.unit, "--top", "5", "--json"
        )
    )
    flagged = [r for r in hot["hotspots"] if r["hotspot"] and r["kind"] != "unit"]
    top = [r for r in hot["hotspots"] if r["kind"] == "project"][:3]
    for r in top:
        flags = "、".join(f for f, on in (("量大", r["many"]), ("增幅快", r["fast"])) if on)
        demo.note(
            "hotspots",
            f"{r['name']}: {r['leads']} leads in the last {hot['window_days']} days "
            f"({r['previous']} before){', ' + flags if flags else ''}",
        )
    found = {r["id"] for r in flagged}
    waves_found = [w for w in waves if w["project_id"] in found and w["employer_id"] in found]
    demo.note(
        "hotspots",
        f"{len(waves_found)} of the generator's {len(waves)} lead waves flagged "
        "(project and employer)",
    )
    if len(waves_found) != len(waves):
        missed = [w["project_id"] for w in waves if w not in waves_found]
        raise StepFailed(f"hotspots: the generator's lead waves {missed} were not flagged")

    ledger = json.loads(
        demo.arrears(
            "ledger --open", "ledger", str(restated), "--unit", demo.unit, "--open", "--json"
        )
    )
    cells = pl.read_parquet(restated / "cells.parquet").filter(
        (pl.col("unit") == demo.unit)
        & (pl.col("scope") == "rollup")
        & (pl.col("cell") == "aux.open_cases")
    )
    form_open = int(cells["value"].sum())
    if ledger["open_cases"] != form_open:
        raise StepFailed(
            f"ledger: {ledger['open_cases']} open verified cases, but the snapshot's "
            f"aux.open_cases for {demo.unit} is {form_open}"
        )
    demo.note(
        "ledger",
        f"{ledger['open_lines']} open lines, {ledger['open_cases']} verified cases still open "
        f"(= the snapshot's aux.open_cases), deadline {ledger['deadline'][:10]}",
    )
    draft = demo.run_dir / f"summary-{demo.unit}.docx"
    demo.arrears(
        "summary (docx)",
        "summary",
        str(restated),
        "--previous",
        str(previous),
        "--unit",
        demo.unit,
        "--out",
        str(draft),
    )
    demo.outputs["冬季行动总体工作情况 draft"] = draft
    shown = _draft_figures(draft)
    open_shown = shown.get("查实未结欠薪案件")
    if open_shown != str(form_open):
        raise StepFailed(
            f"summary: the draft shows {open_shown} open verified cases, the ledger and the "
            f"snapshot's aux.open_cases {form_open}"
        )
    demo.note(
        "summary",
        f"the draft's open verified cases ({open_shown}) are the ledger's; "
        f"{shown.get('解决欠薪问题')} problems resolved, {shown.get('涉及金额')} 万元 "
        "(the form's cells)",
    )


def _draft_figures(draft: Path) -> dict[str, str]:
    """The draft's figure tables read back (项目 -> 数值)."""
    import docx

    document = docx.Document(str(draft))
    return {
        row.cells[0].text: row.cells[1].text for table in document.tables for row in table.rows[1:]
    }
