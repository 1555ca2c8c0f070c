"""Every unit names the agency that stamps its form; snapshots written before keep working."""

from __future__ import annotations

import pytest

from contracts.errors import ValidationError
from contracts.registry import Registry, Unit


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def test_every_shipped_unit_has_an_agency(registry: Registry) -> None:
    assert all(unit.agency for unit in registry)
    assert registry.unit("320400").agency == "常州市人力资源和社会保障局"
    assert registry.unit("320471").agency == "常州经开区社会保障和卫生健康局"  # as the notice says
    assert registry.unit("320412").agency == "常州市武进区人力资源和社会保障局"
    assert registry.unit("320481").agency == "溧阳市人力资源和社会保障局"
    assert registry.unit("320000").agency == "江苏省人力资源和社会保障厅"
    assert registry.unit("320412").filer == registry.unit("320412").agency


def test_the_agency_travels_with_a_snapshot_and_in_its_fingerprint(registry: Registry) -> None:
    kept = Registry.from_json(registry.to_json(), "meta.json registry")
    assert kept.fingerprint() == registry.fingerprint()
    assert kept.unit("320471").agency == "常州经开区社会保障和卫生健康局"
    renamed = [dict(u) for u in registry.to_json()]
    renamed[[u["code"] for u in renamed].index("320471")]["agency"] = "某局"
    assert Registry.from_json(renamed, "x").fingerprint() != registry.fingerprint()


def test_entries_written_before_the_agency_are_read_and_keep_their_fingerprint() -> None:
    old = [
        {"code": "100000", "name": "全国", "parent": None, "official": False},
        {"code": "320000", "name": "江苏省", "parent": "100000", "official": True},
    ]
    kept = Registry.from_json(old, "old meta.json registry")
    assert kept.unit("320000").agency == "" and kept.unit("320000").filer == "江苏省"
    assert kept.to_json() == old  # so the sha256 stored with the old snapshot still holds
    assert Unit("1", "x", None, False, "a") == Unit("1", "x", None, False)  # not identity


@pytest.mark.parametrize("agency", ["", " 常州市人力资源和社会保障局", 7])
def test_a_bad_agency_is_refused(agency: object) -> None:
    entry = {"code": "100000", "name": "全国", "official": False, "agency": agency}
    with pytest.raises(ValidationError, match="agency"):
        Registry.from_json([entry], "units")
