"""The README's benchmark table is the one `benchmarks/table.py` makes from the JSON files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmarks.table import BEGIN, END, README, RESULTS, main, rewrite, table


def test_the_readme_table_is_generated_from_the_results() -> None:
    assert main(["--check"]) == 0, "run python -m benchmarks.table"


def test_a_changed_figure_makes_the_table_stale(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    figures = json.loads((results / "replay.json").read_text(encoding="utf-8"))
    figures["kafka_ratio_to_bare"] = 0.123456
    (results / "replay.json").write_text(json.dumps(figures), encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    fresh = rewrite(readme, table(results))
    assert fresh != readme and "0.123456" in fresh
    assert fresh.count(BEGIN) == fresh.count(END) == 1
