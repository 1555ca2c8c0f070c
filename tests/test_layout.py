"""The house rules of the layout (ARCHITECTURE.md): which folder may import what, a light
contracts core, small modules; read from the source (imports parsed, nothing imported)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("contracts", "infra", "streams", "warehouse", "pipeline")
OURS = {*PRODUCT, "benchmarks", "tests"}

#: Our folders each folder may import (STYLE.md's table; the flow of data).
MAY_IMPORT = {
    "contracts": {"contracts"},
    "infra": {"contracts", "infra"},
    "streams": {"contracts", "infra", "streams"},
    "warehouse": {"contracts", "infra", "warehouse"},
    "pipeline": {"contracts", "infra", "streams", "warehouse", "pipeline"},
    "benchmarks": {"contracts", "infra", "streams", "warehouse", "pipeline", "benchmarks"},
}
#: Third-party packages the contracts core may import: nothing heavy, no I/O library.
CORE_THIRD_PARTY = {"orjson", "chinese_calendar"}
#: Only contracts/quality/ imports these (and the folders that read frames for it).
QUALITY_ONLY = {"great_expectations", "pandas"}
#: A module longer than this says why at its top (a docstring line starting "Size:").
MAX_LINES = 350


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Top-level names of every module `path` imports (also inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _stdlib() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names) | {"__future__"}


@pytest.mark.parametrize("folder", sorted(MAY_IMPORT))
def test_each_folder_imports_only_the_folders_before_it(folder: str) -> None:
    wrong = []
    for path in _modules(folder):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in OURS and top not in MAY_IMPORT[folder]:
                if path == ROOT / "pipeline/commands/bench.py" and top == "benchmarks":
                    continue  # the thin `arrears bench` entry
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_contracts_core_imports_nothing_heavy_and_not_the_quality_suites() -> None:
    wrong = []
    for path in _modules("contracts"):
        if "quality" in path.relative_to(ROOT / "contracts").parts:
            continue
        for name in _imports(path):
            top = name.split(".")[0]
            if name.startswith("contracts.quality"):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
            elif top not in _stdlib() and top != "contracts" and top not in CORE_THIRD_PARTY:
                wrong.append(f"{path.relative_to(ROOT)} imports {name} (not in the core's list)")
    assert not wrong, "\n".join(wrong)


def test_only_the_quality_suites_import_great_expectations_or_pandas() -> None:
    wrong = []
    for folder in PRODUCT:
        for path in _modules(folder):
            if path.is_relative_to(ROOT / "contracts/quality"):
                continue
            for name in _imports(path):
                if name.split(".")[0] in QUALITY_ONLY:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_importing_the_contracts_core_loads_no_heavy_library() -> None:
    core = [
        f"contracts.{p.stem}"
        for p in sorted((ROOT / "contracts").glob("*.py"))
        if p.stem != "__init__"
    ]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in core)
        + "heavy = {'great_expectations', 'pandas', 'polars', 'pyarrow', 'kafka', 'faust'}\n"
        + "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_long_modules_say_why_at_their_top() -> None:
    wrong = []
    for folder in PRODUCT:
        for path in _modules(folder):
            text = path.read_text(encoding="utf-8")
            if text.count("\n") <= MAX_LINES:
                continue
            doc = ast.get_docstring(ast.parse(text)) or ""
            if not any(line.startswith("Size:") for line in doc.splitlines()):
                wrong.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
    assert not wrong, (
        f"modules over {MAX_LINES} lines without a 'Size:' line in their docstring:\n"
        + "\n".join(wrong)
    )


def test_tests_do_not_import_private_helpers_of_product_modules() -> None:
    wrong = []
    for path in _modules("tests"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] not in PRODUCT:
                    continue
                for alias in node.names:
                    if alias.name.startswith("_"):
                        wrong.append(f"{path.relative_to(ROOT)}: {node.module}.{alias.name}")
    assert not wrong, "\n".join(wrong)
