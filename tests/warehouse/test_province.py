"""A province run: generate for 320000, archive, snapshot, report the province and its cities.

`arrears generate --unit 320000` writes events for every unit of Jiangsu; they are archived
(the archive path, no broker), cut into a snapshot and reported with `--children`: 14 sheets,
the province's figures exactly its own plus its 13 cities', no event refused for its unit
beyond the generator's deliberate `unknown_unit` dirt, and each sheet one A4 page when
LibreOffice renders the workbook.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from contracts.errors import ValidationError
from contracts.events import parse_event
from pipeline.generate import GenerateOptions, generate
from tests.warehouse.conftest import REGISTRY
from tests.warehouse.logkit import PARTITIONS, SOURCES
from tests.warehouse.test_print import assert_a4_pages, office  # noqa: F401 (the fixture)
from warehouse.archive_files import archive_records
from warehouse.rebuild import LogRecord
from warehouse.report.xlsx import GEOMETRY as G

Cli = Callable[..., tuple[int, str, str]]
CITIES = [u.code for u in REGISTRY.children("320000")]


def _records(lines: list[bytes]) -> list[LogRecord]:
    """The generated lines as source-topic records, keyed by unit as the producer keys them."""
    offsets: Counter[tuple[str, int]] = Counter()
    out = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        source = obj.get("source") if isinstance(obj, dict) else None
        unit = obj.get("unit") if isinstance(obj, dict) else None
        topic = f"t.{source if source in SOURCES else 'inspection'}"
        partition = int(unit) % PARTITIONS if isinstance(unit, str) and unit.isdigit() else 0
        out.append(LogRecord(topic, partition, offsets[(topic, partition)], line))
        offsets[(topic, partition)] += 1
    return out


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A generated province campaign: (its file, its manifest)."""
    out = tmp_path_factory.mktemp("province") / "campaign.jsonl"
    manifest = generate(GenerateOptions(unit="320000", events=8000, seed=14, out=out))
    return out, manifest


@pytest.fixture
def snapshot(
    province: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARREARS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ARREARS_TOPIC_PREFIX", "t.")
    monkeypatch.delenv("ARREARS_CONFIG", raising=False)
    lines = province[0].read_bytes().splitlines()
    archive_records(tmp_path / "state" / "archive", _records(lines), REGISTRY)
    code, out, err = cli("snapshot", "--cutoff", "2024-12-31", "--from", "archive", "--quiet")
    assert code == 0, out + err
    return "2024-12-31@latest"


def test_every_unit_of_jiangsu_gets_events_and_none_is_refused_for_its_unit(
    province: tuple[Path, dict[str, Any]],
) -> None:
    path, manifest = province
    reasons: Counter[str] = Counter()
    units: Counter[str] = Counter()
    for line in path.read_bytes().splitlines():
        try:
            units[parse_event(line, REGISTRY).unit] += 1
        except ValidationError as err:
            reasons[err.reason] += 1
            if err.reason == "unit.unknown":  # the deliberate dirt: a unit code ending in 99
                assert json.loads(line)["unit"].endswith("99"), line
    assert reasons["unit.unknown"] == manifest["totals"]["dirt"]["bad_by_kind"]["unknown_unit"]
    assert set(units) <= {u.code for u in REGISTRY.subtree("320000")}
    assert {code[:4] for code in units} >= {code[:4] for code in CITIES}  # every city


def _exact(text: str) -> dict[str, dict[str, int]]:
    """unit -> cell id -> exact value, from the report's CSV."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for row in csv.DictReader(io.StringIO(text)):
        out[row["unit"]][row["cell"]] = int(row["exact"])
    return out


def test_the_province_rolls_up_exactly_from_its_own_figures_and_its_cities(
    cli: Cli, snapshot: str
) -> None:
    code, rollup, err = cli("report", snapshot, "--unit", "320000", "--children", "--format", "csv")
    assert code == 0, err
    every = [u.code for u in REGISTRY.subtree("320000")]
    code, own, err = cli(
        "report", snapshot, *(f"--unit={c}" for c in every), "--scope", "own", "--format", "csv"
    )
    assert code == 0, err
    sheets, own_figures = _exact(rollup), _exact(own)
    assert list(sheets) == ["320000", *CITIES]
    assert sum(sheets["320000"].values()) > 0
    for unit, figures in sheets.items():  # each sheet: the own figures of its whole subtree
        below = [u.code for u in REGISTRY.subtree(unit)]
        for cell, total in figures.items():
            assert total == sum(own_figures[c][cell] for c in below), (unit, cell)
    for cell, total in sheets["320000"].items():  # and the province: its own plus its cities
        assert total == own_figures["320000"][cell] + sum(sheets[c][cell] for c in CITIES)


def test_the_province_workbook_prints_fourteen_a4_pages(
    cli: Cli,
    snapshot: str,
    tmp_path: Path,
    office: str,  # noqa: F811
) -> None:
    book = tmp_path / "province.xlsx"
    argv = ["report", snapshot, "--unit", "320000", "--children", "--format", "xlsx"]
    code, out, err = cli(*argv, "--out", str(book), "--filed-on", "2025-01-03")
    assert code == 0, out + err
    sheets = openpyxl.load_workbook(book).worksheets
    assert [s.title.split()[0] for s in sheets] == ["320000", *CITIES]
    # the province's roll-up line names its 13 cities, each with its count, not 118 units
    scope = sheets[0].cell(row=G.scope, column=1).value
    assert scope.startswith(
        "汇总范围：江苏省（320000）本级及下级118个单位汇总：南京市（320100）及其下级11个单位、"
    )
    assert scope.endswith("宿迁市（321300）及其下级6个单位") and scope.count("、") == 12
    assert_a4_pages(office, book, 14)
