"""Bitemporal snapshots: a cutoff (event time) x an offset vector (what was known).

Layout (ARCHITECTURE.md): `<root>/<cutoff>/<snapshot-id>/cells.parquet` and
`meta.json`. A snapshot is written into `<root>/<cutoff>/.tmp-<pid>-<id>/`,
fsynced, and renamed into place, so a reader sees all of it or none of it;
names starting with a dot are never snapshots.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from contracts.clock import CST
from contracts.cutoff import Cutoff
from contracts.errors import ContractError
from contracts.registry import Registry
from infra.broker import pid_alive
from warehouse._durable import fsync_dir, fsync_file, hook, write_bytes_durably
from warehouse.cells_table import SCHEMA
from warehouse.errors import SnapshotError
from warehouse.offsets import Offsets, offsets_from_json, offsets_to_json

__all__ = [
    "Snapshot",
    "CellDiff",
    "write_snapshot",
    "load_snapshot",
    "resolve_snapshot",
    "list_snapshots",
    "compare",
    "code_version",
    "SOURCES",
]

SOURCES = ("kafka", "archive", "live")
_TEMP = re.compile(r"\.tmp-(\d+)-")
_KEY = ["unit", "scope", "cell"]


@dataclass(frozen=True)
class Snapshot:
    path: Path
    meta: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.meta["snapshot_id"])

    @property
    def offsets(self) -> Offsets:
        return offsets_from_json(self.meta["offsets"], where=f"{self.path}/meta.json offsets")

    @property
    def cutoff(self) -> str:
        return str(self.meta["cutoff"])

    def registry(self) -> Registry | None:
        """The unit registry the snapshot was cut with (None if it predates recording it)."""
        kept = self.meta.get("registry")
        if not isinstance(kept, dict):
            return None
        try:
            return Registry.from_json(kept.get("units"), f"{self.path}/meta.json registry")
        except ContractError as err:
            raise SnapshotError(str(err)) from err

    def table(self, name: str) -> pl.DataFrame | None:
        """A Parquet file stored beside cells.parquet (None when the snapshot has none)."""
        path = self.path / name
        if not path.is_file():
            return None
        try:
            return pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as err:
            raise SnapshotError(f"cannot read {path}: {err}") from err

    def cells(self) -> pl.DataFrame:
        try:
            return pl.read_parquet(self.path / "cells.parquet")
        except (OSError, pl.exceptions.PolarsError) as err:
            raise SnapshotError(f"cannot read {self.path / 'cells.parquet'}: {err}") from err


class CellDiff(NamedTuple):
    unit: str
    scope: str
    cell: str
    stored: int | None  # None: the row is missing on that side
    rebuilt: int | None


def code_version() -> str:
    """`<package version>+<git sha>` when run from a git checkout, else the version."""
    try:
        version = metadata.version("arrears")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+{sha}" if sha else version


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40]


def write_snapshot(
    root: Path,
    cutoff: Cutoff,
    cells: pl.DataFrame,
    offsets: Offsets,
    *,
    source: str,
    event_count: int | None,
    label: str | None = None,
    created_at: dt.datetime | None = None,
    notes: dict[str, Any] | None = None,
    registry: Registry | None = None,
    tables: dict[str, pl.DataFrame] | None = None,
) -> Snapshot:
    """Write a snapshot atomically and return it. Same-cutoff snapshots sit side by side.

    `event_count` None (JSON null): unknown, e.g. live workers whose state predates the count.
    `notes`: more facts for meta.json (a live snapshot's log end); they cannot replace the
    keys above. `registry`: the unit registry the cells were computed with; meta.json keeps
    its units and fingerprint, so a replay can use the same registry later. `tables`: more
    Parquet files written beside cells.parquet in the same atomic step (file name -> frame:
    the supervision views, `warehouse.supervision`).
    """
    if source not in SOURCES:
        raise SnapshotError(f"snapshot source {source!r} is not one of {', '.join(SOURCES)}")
    if dict(cells.schema) != SCHEMA:
        raise SnapshotError(f"cell table schema {dict(cells.schema)} is not {SCHEMA}")
    created = (created_at or dt.datetime.now(CST)).astimezone(CST).replace(microsecond=0)
    snapshot_id = "-".join(
        p
        for p in (
            created.strftime("%Y%m%dT%H%M%S"),
            _slug(label or "") or source,
            uuid.uuid4().hex[:6],
        )
        if p
    )
    meta: dict[str, Any] = {
        "snapshot_id": snapshot_id,
        "cutoff": cutoff.iso(),
        "label": label,
        "offsets": offsets_to_json(offsets),
        "created_at": created.isoformat(),
        "code_version": code_version(),
        "event_count": None if event_count is None else int(event_count),
        "source": source,
    }
    if registry is not None:
        meta["registry"] = {"sha256": registry.fingerprint(), "units": registry.to_json()}
    clash = sorted(set(notes or {}) & set(meta))
    if clash:
        raise SnapshotError(f"snapshot notes may not replace {', '.join(clash)}")
    meta.update(notes or {})
    parent = root / cutoff.dir_name
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(parent)
        temp = parent / f".tmp-{os.getpid()}-{snapshot_id}"
        temp.mkdir()
        cells.write_parquet(temp / "cells.parquet", compression="zstd", statistics=True)
        fsync_file(temp / "cells.parquet")
        for name, frame in (tables or {}).items():
            frame.write_parquet(temp / name, compression="zstd", statistics=True)
            fsync_file(temp / name)
        write_bytes_durably(
            temp / "meta.json", (json.dumps(meta, ensure_ascii=False, indent=2) + "\n").encode()
        )
        fsync_dir(temp)
        hook("snapshot.temp-written")
        final = parent / snapshot_id
        temp.rename(final)
        fsync_dir(parent)
    except OSError as err:
        raise SnapshotError(f"cannot write the snapshot under {parent}: {err}") from err
    return Snapshot(final, meta)


def _remove_stale_temps(parent: Path) -> None:
    """Temp dirs of writers that died (SIGKILL, power loss) are garbage; never visible."""
    for entry in parent.iterdir():
        m = _TEMP.match(entry.name)
        if m and entry.is_dir() and not pid_alive(int(m.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def load_snapshot(path: Path) -> Snapshot:
    meta_file = path / "meta.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"{path} is not a snapshot (no meta.json)") from None
    except (OSError, ValueError) as err:
        raise SnapshotError(f"cannot read {meta_file}: {err}") from err
    if not (path / "cells.parquet").is_file():
        raise SnapshotError(f"{path} is not a snapshot (no cells.parquet)")
    return Snapshot(path, meta)


def list_snapshots(root: Path, cutoff_dir: str | None = None) -> list[Snapshot]:
    """Every complete snapshot under `root` (optionally one cutoff), oldest first."""
    if not root.is_dir():
        return []
    dirs = [root / cutoff_dir] if cutoff_dir else sorted(p for p in root.iterdir() if p.is_dir())
    found = []
    for d in dirs:
        if not d.is_dir() or d.name.startswith("."):
            continue
        for entry in sorted(d.iterdir()):
            if (
                entry.is_dir()
                and not entry.name.startswith(".")
                and (entry / "meta.json").is_file()
            ):
                found.append(load_snapshot(entry))
    return sorted(found, key=lambda s: (str(s.meta.get("created_at")), s.id))


def resolve_snapshot(ref: str, root: Path) -> Snapshot:
    """A snapshot by directory path, `<cutoff>/<id>`, `<id>`, or `<cutoff>@latest|<label>`.

    `2024-12-31@close-of-business` is the newest snapshot of that cutoff with that label.
    """
    path = Path(ref)
    if path.is_dir():
        return load_snapshot(path)
    if (root / ref).is_dir():
        return load_snapshot(root / ref)
    if "@" in ref:
        cutoff_dir, _, which = ref.partition("@")
        pool = list_snapshots(root, cutoff_dir)
        if which != "latest":
            pool = [s for s in pool if s.meta.get("label") == which]
        if pool:
            return pool[-1]
    else:
        matches = [s for s in list_snapshots(root) if s.id == ref or s.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise SnapshotError(
                f"snapshot {ref!r} is ambiguous under {root}: "
                + ", ".join(f"{s.path.parent.name}/{s.id}" for s in matches)
            )
    known = [f"{s.path.parent.name}/{s.id}" for s in list_snapshots(root)][-8:]
    hint = ("; newest: " + ", ".join(known)) if known else "; there are none yet (arrears snapshot)"
    raise SnapshotError(
        f"no snapshot {ref!r} under {root} (give a directory, CUTOFF/ID, ID, or "
        f"CUTOFF@latest / CUTOFF@LABEL){hint}"
    )


def compare(stored: pl.DataFrame, rebuilt: pl.DataFrame) -> list[CellDiff]:
    """Every (unit, scope, cell) whose value differs or that only one side has."""
    joined = stored.select(*_KEY, pl.col("value").alias("stored")).join(
        rebuilt.select(*_KEY, pl.col("value").alias("rebuilt")), on=_KEY, how="full", coalesce=True
    )
    differing = joined.filter(
        pl.col("stored").is_null()
        | pl.col("rebuilt").is_null()
        | (pl.col("stored") != pl.col("rebuilt"))
    ).sort(_KEY)
    extra = []
    for frame, name in ((stored, "stored"), (rebuilt, "rebuilt")):
        dups = frame.filter(pl.struct(_KEY).is_duplicated())
        if dups.height:
            extra.append(f"{name} has {dups.height} duplicated rows")
    if extra:
        raise SnapshotError("cannot compare cell tables: " + "; ".join(extra))
    return [CellDiff(*row) for row in differing.iter_rows()]
