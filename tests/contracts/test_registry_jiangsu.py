"""All of Jiangsu in the registry, built from the pinned data set (scripts/units_registry.py)."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from contracts.registry import DEFAULT_UNITS_PATH, Registry

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "scripts" / "units_registry.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("units_registry", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return _script()


@pytest.fixture(scope="module")
def source(script: ModuleType) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(script.EXTRACT.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def test_the_extract_names_the_pinned_package(script: ModuleType, source: dict[str, Any]) -> None:
    assert source["package"] == "china-division@2.7.0"
    assert source["tarball_sha256"] == script.TARBALL_SHA256
    assert "2023" in source["vintage"]
    assert set(source["files"]) == {"provinces.json", "cities.json", "areas.json"}


def test_shipped_units_toml_is_the_scripts_output(script: ModuleType, source: dict) -> None:
    assert DEFAULT_UNITS_PATH.read_text(encoding="utf-8") == script.render(source)


def test_counts_per_city_equal_the_source(source: dict[str, Any], registry: Registry) -> None:
    areas = source["files"]["areas.json"]["rows"]
    expected = Counter(f"{a['cityCode']}00" for a in areas)
    expected["320400"] += 1  # 320471 常州经开区, kept although the data set lacks it
    cities = registry.children("320000")
    assert len(cities) == 13 == len(source["files"]["cities.json"]["rows"])
    assert {c.code: len(registry.children(c.code)) for c in cities} == dict(expected)
    # 95 GB/T 2260 county-level divisions, 9 statistics-bureau development zones, plus 320471
    below = [u for c in cities for u in registry.children(c.code)]
    assert sum(u.official for u in below) == 95
    assert sorted(u.code for u in below if not u.official) == [
        "320371", "320471", "320576", "320671", "320771", "320871", "320971", "321071",
        "321171", "321371",
    ]  # fmt: skip
    assert len(registry) == 1 + 1 + 13 + 105


def test_every_source_row_is_a_unit_with_its_name_and_parent(
    source: dict[str, Any], registry: Registry
) -> None:
    for city in source["files"]["cities.json"]["rows"]:
        assert registry.unit(city["code"] + "00").name == city["name"]
    for area in source["files"]["areas.json"]["rows"]:
        unit = registry.unit(area["code"])
        assert (unit.name, unit.parent) == (area["name"], area["cityCode"] + "00")
        assert unit.official == (area["code"][4] != "7")


def test_every_unit_has_an_agency_by_the_rules(registry: Registry) -> None:
    assert all(u.agency for u in registry)
    assert registry.unit("320102").agency == "南京市玄武区人力资源和社会保障局"
    assert registry.unit("320321").agency == "丰县人力资源和社会保障局"
    assert registry.unit("320281").agency == "江阴市人力资源和社会保障局"
    assert registry.unit("320576").agency == "苏州工业园区管理委员会"
    assert registry.unit("320471").agency == "常州经开区社会保障和卫生健康局"


def test_changzhou_units_are_unchanged(registry: Registry) -> None:
    """The codes and names the registry had before all of Jiangsu go on working as they were."""
    wujin = registry.unit("320412")
    assert (wujin.name, wujin.parent, wujin.agency) == (
        "武进区",
        "320400",
        "常州市武进区人力资源和社会保障局",
    )
    assert [u.code for u in registry.children("320400")] == [
        "320402", "320404", "320411", "320412", "320413", "320471", "320481",
    ]  # fmt: skip


def test_check_step_fails_on_a_hand_edit(script: ModuleType, tmp_path: Path, monkeypatch) -> None:
    edited = tmp_path / "units.toml"
    edited.write_text(DEFAULT_UNITS_PATH.read_text(encoding="utf-8") + "# hand edit\n", "utf-8")
    monkeypatch.setattr(script, "OUTPUT", edited)
    monkeypatch.setattr(script, "ROOT", tmp_path)
    assert script.main(["check"]) == 1
    edited.write_text(DEFAULT_UNITS_PATH.read_text(encoding="utf-8"), "utf-8")
    assert script.main(["check"]) == 0
