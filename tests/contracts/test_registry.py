"""The unit registry: the shipped file, tree navigation and helpful errors."""

from pathlib import Path

import pytest

from contracts.errors import ValidationError
from contracts.registry import DEFAULT_UNITS_PATH, Registry, Unit

CHANGZHOU_UNITS = ["320402", "320404", "320411", "320412", "320413", "320471", "320481"]
JIANGSU_CITIES = [f"32{n:02d}00" for n in range(1, 14)]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def test_shipped_registry_is_packaged_next_to_the_module() -> None:
    assert DEFAULT_UNITS_PATH.name == "units.toml"
    assert DEFAULT_UNITS_PATH.parent == Path(__file__).parents[2] / "contracts"


def test_shipped_registry_covers_spec_3(registry: Registry) -> None:
    assert registry.unit("100000") == Unit("100000", "全国", None, False)
    assert registry.unit("320000").parent == "100000"
    assert [u.code for u in registry.children("320000")] == JIANGSU_CITIES
    assert [u.code for u in registry.children("320400")] == CHANGZHOU_UNITS
    assert registry.unit("320471") == Unit("320471", "常州经开区", "320400", False)
    assert registry.unit("320412").name == "武进区"
    assert len(registry) == 1 + 1 + 13 + 105  # all of Jiangsu: test_registry_jiangsu.py
    assert {u.code for u in registry} >= {"320412", "321300"}
    assert "320412" in registry and "320499" not in registry


def test_subtree_and_ancestors(registry: Registry) -> None:
    assert [u.code for u in registry.subtree("320400")] == ["320400", *CHANGZHOU_UNITS]
    assert [u.code for u in registry.subtree("320412")] == ["320412"]
    assert len(registry.subtree("100000")) == len(registry)
    assert [u.code for u in registry.ancestors("320471")] == ["320400", "320000", "100000"]
    assert registry.ancestors("100000") == ()


def test_unknown_unit_names_its_known_neighbours(registry: Registry) -> None:
    with pytest.raises(ValidationError) as info:
        registry.unit("320499")
    err = info.value
    assert err.reason == "unit.unknown" and err.field == "unit"
    assert str(err).startswith(
        "unit 320499: not in the registry (contracts/units.toml); "
        "known units under 320400 常州市: 320402 天宁区, 320404 钟楼区"
    )
    with pytest.raises(ValidationError, match="known units under 320000 江苏省: 320100 南京市"):
        registry.unit("329900")
    with pytest.raises(ValidationError) as info:
        registry.unit("440300")
    assert "known units" not in str(info.value)


@pytest.mark.parametrize("code", [320412, "32041", "3204120", None])
def test_malformed_unit_code(registry: Registry, code: object) -> None:
    with pytest.raises(ValidationError) as info:
        registry.unit(code)
    assert info.value.reason == "unit.format"


def test_navigation_of_unknown_code_raises(registry: Registry) -> None:
    for method in (registry.children, registry.subtree, registry.ancestors):
        with pytest.raises(ValidationError):
            method("320499")


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "units.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_load_from_another_file_names_it_in_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[unit]]\ncode = "100000"\nname = "全国"\nofficial = false\n')
    registry = Registry.load(path)
    assert len(registry) == 1
    with pytest.raises(ValidationError, match=str(path).replace("\\", "\\\\")):
        registry.unit("320400")


@pytest.mark.parametrize(
    "body",
    [
        "",  # no units
        '[[unit]]\ncode = "1"\nname = "x"\nofficial = false\n',  # bad code
        '[[unit]]\ncode = "100000"\nname = ""\nofficial = false\n',  # empty name
        '[[unit]]\ncode = "100000"\nname = "x"\nofficial = "no"\n',  # not a bool
        '[[unit]]\ncode = "100000"\nname = "x"\nofficial = false\nx = 1\n',  # unknown key
        '[[unit]]\ncode = "100000"\nname = "x"\nparent = 1\nofficial = false\n',
        '[[unit]]\ncode = "100000"\nname = "x"\nofficial = false\n' * 2,  # duplicate
        '[[unit]]\ncode = "100000"\nname = "x"\nparent = "999999"\nofficial = false\n',
        '[[unit]]\ncode = "100000"\nname = "x"\nofficial = false\n'
        '[[unit]]\ncode = "200000"\nname = "y"\nofficial = false\n',  # two roots
        '[[unit]]\ncode = "100000"\nname = "x"\nofficial = false\n'
        '[[unit]]\ncode = "200000"\nname = "y"\nparent = "300000"\nofficial = false\n'
        '[[unit]]\ncode = "300000"\nname = "z"\nparent = "200000"\nofficial = false\n',  # cycle
    ],
)
def test_broken_registry_files_are_rejected(tmp_path: Path, body: str) -> None:
    with pytest.raises(ValidationError) as info:
        Registry.load(_write(tmp_path, body))
    assert info.value.reason == "registry.invalid"
