"""What `arrears check` hands the quality suites: a snapshot directory, the event archive
(its rows, and the event_ids the Ledger holds active after them) and the dead letters, read
into polars frames (contracts.quality knows none of these places)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from contracts.quality import ARCHIVE_COLUMNS, LedgerAnswer, SnapshotInput
from contracts.registry import Registry

if TYPE_CHECKING:
    from warehouse.offsets import Offsets

__all__ = [
    "QualityInputError",
    "read_snapshot",
    "cells_sha256",
    "archive_offsets",
    "archive_files",
    "scan_archive",
    "ledger_answers",
    "default_archive",
    "dead_letters_from_file",
    "dead_letters_from_kafka",
]

CELLS_FILE = "cells.parquet"
META_FILE = "meta.json"


class QualityInputError(Exception):
    """A snapshot, archive or dead-letter input cannot be read; the message says which and why."""


def read_snapshot(ref: str | Path, root: Path | None = None) -> tuple[Path, SnapshotInput]:
    """A snapshot by directory or by reference (`<cutoff>/<id>`, `<id>`, `<cutoff>@latest`,
    resolved under `root`, default <state_dir>/snapshots), read with the warehouse's loader."""
    from warehouse.errors import SnapshotError
    from warehouse.snapshot import resolve_snapshot

    if root is None:
        from infra.settings import Settings

        root = Path(Settings.from_env().state_dir) / "snapshots"
    try:
        snap = resolve_snapshot(str(ref), root)
        cells = snap.cells()
    except SnapshotError as err:
        raise QualityInputError(str(err)) from None
    if "cutoff" not in snap.meta:
        raise QualityInputError(
            f"{snap.path / META_FILE} has no cutoff; expected the snapshot "
            'metadata, e.g. {"cutoff": "2024-12-31T23:59:59+08:00", ...}'
        )
    snapshot = SnapshotInput(cells=cells, meta=snap.meta, label=str(snap.path))
    try:
        snapshot.cutoff_ms  # noqa: B018  (validates the cutoff's format now, with the path)
    except ValueError as err:
        raise QualityInputError(str(err)) from None
    return snap.path, snapshot


def cells_sha256(path: Path) -> str:
    """Digest of cells.parquet: the gate records which exact figures were checked."""
    return hashlib.sha256((path / CELLS_FILE).read_bytes()).hexdigest()


def default_archive() -> Path | None:
    """`<state_dir>/archive` from the settings, when it exists."""
    from infra.settings import Settings

    candidate = Path(Settings.from_env().state_dir) / "archive"
    return candidate if candidate.is_dir() else None


def archive_offsets(directory: Path, meta: Mapping[str, Any] | None = None) -> Offsets:
    """The offset vector of the archived rows behind the snapshot: meta.json's `offsets`
    (read with warehouse.offsets), or the whole archive's end when it records none. Both
    `scan_archive` and `ledger_answers` read exactly the rows before it."""
    from warehouse.archive_files import archive_end
    from warehouse.errors import OffsetsError
    from warehouse.offsets import offsets_from_json

    if not directory.is_dir():
        raise QualityInputError(
            f"archive {directory} is not a directory; expected "
            "archive/source=<source>/date=<YYYY-MM-DD>/part-*.parquet"
        )
    recorded = (meta or {}).get("offsets")
    if not recorded:
        return archive_end(directory)
    try:
        return offsets_from_json(recorded, where="the snapshot's meta.json offsets")
    except OffsetsError as err:
        raise QualityInputError(str(err)) from None


def archive_files(directory: Path, meta: Mapping[str, Any] | None = None) -> list[Path]:
    """The archive's Parquet files (found by the warehouse's archive_files), leaving out
    those wholly past the snapshot's offsets or of partitions it did not read."""
    from warehouse.archive_files import archive_files as list_parts

    upto = archive_offsets(directory, meta)
    files: dict[Path, None] = {}  # a compacted file holds several partitions: once
    for part in list_parts(directory):
        end = upto.get(part.topic, {}).get(part.partition)
        if end is None or part.first >= end:
            continue  # a partition the snapshot did not read, or written after it
        files[part.path] = None
    return list(files)


def scan_archive(directory: Path, meta: Mapping[str, Any] | None = None) -> pl.LazyFrame:
    """The archived rows behind the snapshot (whole files; `prepare_events` cuts them at
    the offsets)."""
    files = archive_files(directory, meta)
    if not files:
        raise QualityInputError(f"archive {directory} holds no Parquet files for this snapshot")
    try:
        lazy = pl.scan_parquet(files, hive_partitioning=False)
        names = lazy.collect_schema().names()
    except (OSError, pl.exceptions.PolarsError) as err:
        raise QualityInputError(f"archive {directory} cannot be read: {err}") from None
    missing = [c for c in ARCHIVE_COLUMNS if c not in names]
    if missing:
        raise QualityInputError(
            f"archive {directory} lacks columns {', '.join(missing)}; "
            f"expected {', '.join(ARCHIVE_COLUMNS)}"
        )
    return lazy


def ledger_answers(
    directory: Path, meta: Mapping[str, Any] | None, registry: Registry
) -> LedgerAnswer:
    """What the Ledger decides of the archived rows behind the snapshot (the rows
    `scan_archive` reads, to the same offsets), from one warehouse batch
    (`contracts.ledger.Ledger.apply_record` in log order): the keys of the rows' events it
    does not hold active, the resends it refused as conflicts, and the verified cases open
    at the snapshot's cutoff among the active ones (`BatchRebuild.open_cases`, the problem
    ledger's answer too).

        >>> answer = ledger_answers(archive, meta, Registry.load())  # doctest: +SKIP
        >>> run_check(snapshot, archive=lazy, ledger=answer)  # doctest: +SKIP
    """
    from contracts.cutoff import CutoffError, parse_cutoff
    from warehouse.batch import batch_rebuild
    from warehouse.errors import ArchiveError

    upto = archive_offsets(directory, meta)
    try:
        cutoff = parse_cutoff(str((meta or {}).get("cutoff") or ""))
    except CutoffError as err:
        raise QualityInputError(f"the snapshot's cutoff: {err}") from None
    try:
        rebuild = batch_rebuild(directory, upto, list(upto), registry)
        return LedgerAnswer(
            inactive=rebuild.inactive_ids(),
            conflicts=rebuild.conflicts,
            open_cases=rebuild.open_cases(cutoff),
        )
    except (ArchiveError, OSError, pl.exceptions.PolarsError) as err:
        raise QualityInputError(
            f"archive {directory}: cannot resolve its events with the ledger: {err}"
        ) from None


_LETTER_SCHEMA = {
    "id": pl.Utf8,
    "original": pl.Utf8,
    "file": pl.Utf8,
    "line": pl.Int64,
    "reason": pl.Utf8,
    "message": pl.Utf8,
    "rejected_at": pl.Utf8,
    "status": pl.Utf8,
    "dismissed_by": pl.Utf8,
    "dismissed_at": pl.Utf8,
    "dismissal": pl.Utf8,
}


def _letters_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{k: r.get(k) for k in _LETTER_SCHEMA} for r in rows], schema=_LETTER_SCHEMA
    )


def dead_letters_from_file(path: Path) -> pl.DataFrame:
    """Dead letters from a JSON Lines file: one letter per line ({"id", "original", "file",
    "line", "reason", "message", "rejected_at", "status"}), or lines of
    `arrears deadletters export` ({"record", "_deadletter": {...}}, status open)."""
    rows = []
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as err:
        raise QualityInputError(f"cannot read dead letters from {path}: {err.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise QualityInputError(
                f"{path}:{number} is not JSON; expected one dead letter per line"
            ) from None
        if isinstance(obj, dict) and "_deadletter" in obj:
            record = obj.get("record")
            obj = {
                **obj["_deadletter"],
                "status": "open",
                "original": record if isinstance(record, str) else json.dumps(record),
            }
        if not isinstance(obj, dict) or "id" not in obj:
            raise QualityInputError(f"{path}:{number}: a dead letter needs at least an id")
        obj.setdefault("status", "open")
        rows.append(obj)
    return _letters_frame(rows)


def dead_letters_from_kafka() -> pl.DataFrame:
    """Every dead letter with its status, read from the dead-letter topics to their end."""
    from kafka.errors import KafkaError

    from infra.admin import bootstrap_servers
    from infra.errors import InfraError
    from infra.settings import Settings
    from pipeline.ingest.deadletters import DeadLetterError, load

    try:
        settings = Settings.from_env()
        letters, _unreadable = load(bootstrap_servers(settings), settings)
    except (InfraError, KafkaError, DeadLetterError) as err:
        raise QualityInputError(
            f"cannot read the dead letters from Kafka: {err}; start the broker "
            "(`arrears infra up`), or pass --dead-letters FILE or --dead-letters none"
        ) from None
    rows = []
    for letter in letters:
        original = letter.original
        if letter.original_encoding == "base64":
            try:
                original = base64.b64decode(original).decode("utf-8", errors="replace")
            except (binascii.Error, ValueError):
                original = ""
        rows.append(
            {
                "id": letter.id,
                "original": original,
                "file": letter.file,
                "line": letter.line,
                "reason": letter.reason,
                "message": letter.message,
                "rejected_at": letter.rejected_at,
                "status": letter.status,
                "dismissed_by": letter.dismissed_by,
                "dismissed_at": letter.dismissed_at,
                "dismissal": letter.dismissal,
            }
        )
    return _letters_frame(rows)
