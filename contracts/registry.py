"""The reporting-unit tree (SPEC 3), read from a TOML config file."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.errors import MISSING, ContractError, ValidationError

__all__ = ["Unit", "Registry", "DEFAULT_UNITS_PATH"]

#: The shipped registry, packaged next to this module.
DEFAULT_UNITS_PATH = Path(__file__).parent / "units.toml"
_CODE = re.compile(r"[0-9]{6}")
_KEYS = {"code", "name", "parent", "official", "agency"}


@dataclass(frozen=True, slots=True)
class Unit:
    """A reporting unit; `parent` is None only for the root."""

    code: str
    name: str
    parent: str | None
    official: bool
    #: The body that stamps the unit's form (填报单位, e.g. 常州市人力资源和社会保障局); ""
    #: when the entry does not say (a file or a snapshot written before the field). Not part
    #: of the unit's identity in the tree, so it is left out of `==`; the fingerprint has it.
    agency: str = field(default="", compare=False)

    @property
    def filer(self) -> str:
        """The name the form's 填报单位名称 line prints: the agency, else the unit's name."""
        return self.agency or self.name


def _config_error(where: str, value: Any, expected: str) -> ContractError:
    return ValidationError(where, value, expected, reason="registry.invalid")


def _unit_from(entry: Any, where: str) -> Unit:
    if not isinstance(entry, dict):
        raise _config_error(where, entry, "each [[unit]] must be a table")
    unknown = set(entry) - _KEYS
    if unknown:
        raise _config_error(where, sorted(unknown), f"unknown keys; allowed: {sorted(_KEYS)}")
    code, name = entry.get("code"), entry.get("name")
    parent, official = entry.get("parent"), entry.get("official")
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise _config_error(f"{where}.code", code, "must be a 6-digit string")
    if not isinstance(name, str) or not name:
        raise _config_error(f"{where}.name", name, "must be a non-empty string")
    if parent is not None and (not isinstance(parent, str) or not _CODE.fullmatch(parent)):
        raise _config_error(f"{where}.parent", parent, "must be a 6-digit string or omitted")
    if not isinstance(official, bool):
        raise _config_error(f"{where}.official", official, "must be true or false")
    agency = entry.get("agency", "")
    if (
        not isinstance(agency, str)
        or (agency != agency.strip())
        or ("agency" in entry and not agency)
    ):
        raise _config_error(
            f"{where}.agency", agency, "must be a non-empty string without outer spaces, or omitted"
        )
    return Unit(code, name, parent, official, agency)


class Registry:
    """Every reporting unit, with tree navigation.

    >>> registry = Registry.load()
    >>> [unit.code for unit in registry.ancestors("320412")]
    ['320400', '320000', '100000']
    """

    def __init__(self, units: list[Unit], source: str = "contracts/units.toml") -> None:
        self.source = source
        self._units: dict[str, Unit] = {}
        for unit in units:
            if unit.code in self._units:
                raise _config_error(source, unit.code, "unit code listed twice")
            self._units[unit.code] = unit
        self._children: dict[str, list[str]] = {code: [] for code in self._units}
        roots = []
        for unit in units:
            if unit.parent is None:
                roots.append(unit.code)
            elif unit.parent not in self._units:
                raise _config_error(
                    f"{source} unit {unit.code}", unit.parent, "parent is not in the registry"
                )
            else:
                self._children[unit.parent].append(unit.code)
        if len(roots) != 1:
            raise _config_error(source, roots, "expected exactly one root (a unit with no parent)")
        if len(self.subtree(roots[0])) != len(self._units):
            raise _config_error(source, roots[0], "some units do not reach the root (a cycle)")
        for kids in self._children.values():
            kids.sort()

    def to_json(self) -> list[dict[str, Any]]:
        """Every unit as a JSON object, in code order (a snapshot keeps them).

        `agency` is written only when the unit has one, so a registry read back from a
        snapshot cut before the field existed keeps the fingerprint it was stored with.
        """
        out: list[dict[str, Any]] = []
        for u in sorted(self, key=lambda u: u.code):
            entry: dict[str, Any] = {
                "code": u.code,
                "name": u.name,
                "parent": u.parent,
                "official": u.official,
            }
            if u.agency:
                entry["agency"] = u.agency
            out.append(entry)
        return out

    def fingerprint(self) -> str:
        """sha256 of the units (`to_json`, canonical): equal registries, equal fingerprints."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_json(cls, units: Any, source: str) -> Registry:
        """The registry `to_json` wrote (a snapshot's), checked like the TOML file."""
        if not isinstance(units, list):
            raise _config_error(source, units, "must be a list of units")
        return cls([_unit_from(u, f"{source}[{i}]") for i, u in enumerate(units)], source)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Registry:
        """Read a units file; without `path`, the shipped `contracts/units.toml`."""
        file = DEFAULT_UNITS_PATH if path is None else Path(path)
        source = "contracts/units.toml" if path is None else str(file)
        with file.open("rb") as handle:
            data = tomllib.load(handle)
        entries = data.get("unit")
        if not isinstance(entries, list) or not entries:
            raise _config_error(source, MISSING, "expected [[unit]] tables")
        return cls([_unit_from(e, f"{source} unit[{i}]") for i, e in enumerate(entries)], source)

    def __iter__(self) -> Iterator[Unit]:
        return iter(self._units.values())

    def __len__(self) -> int:
        return len(self._units)

    def __contains__(self, code: object) -> bool:
        return code in self._units

    def unit(self, code: object, *, field: str = "unit") -> Unit:
        """The unit with `code`; a ValidationError naming the known neighbours if absent."""
        if isinstance(code, str) and code in self._units:
            return self._units[code]
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise ValidationError(
                field,
                code,
                "a unit code is a 6-digit string (GB/T 2260)",
                reason="unit.format",
                hint='e.g. "320412"',
            )
        raise ValidationError(
            field,
            code,
            self._unknown_message(code),
            reason="unit.unknown",
            hint=f"add it to {self.source} or use a listed code",
        )

    def _unknown_message(self, code: str) -> str:
        near = next((p for p in (code[:4] + "00", code[:2] + "0000") if p in self._units), None)
        text = f"not in the registry ({self.source})"
        if near is None:
            return text
        known = ", ".join(f"{c} {self._units[c].name}" for c in self._children[near])
        return f"{text}; known units under {near} {self._units[near].name}: {known}"

    def children(self, code: str) -> tuple[Unit, ...]:
        """The units that report directly to `code`, by code."""
        return tuple(self._units[c] for c in self._children[self.unit(code).code])

    def subtree(self, code: str) -> tuple[Unit, ...]:
        """`code` and every unit below it, parents before children."""
        out: list[Unit] = []
        stack = [self.unit(code).code]
        while stack:
            current = stack.pop()
            out.append(self._units[current])
            stack.extend(reversed(self._children[current]))
        return tuple(out)

    def ancestors(self, code: str) -> tuple[Unit, ...]:
        """The units above `code`, nearest first, ending with the root."""
        out: list[Unit] = []
        parent = self.unit(code).parent
        while parent is not None:
            out.append(self._units[parent])
            parent = self._units[parent].parent
        return tuple(out)
