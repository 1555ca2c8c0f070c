"""The generator's lead waves (`--lead-waves`) are found as hotspots, 量大 and 增幅快, by the
shipped campaign rules; the manifest says which they are."""

from __future__ import annotations

import json
from pathlib import Path

from contracts.cutoff import parse_cutoff
from contracts.registry import Registry
from contracts.supervision import hotspots, load_rules
from pipeline.generate import GenerateOptions, generate
from tests.warehouse.logkit import SOURCES, Log
from warehouse.archive_files import archive_records
from warehouse.replay import rebuild_from_archive
from warehouse.supervision import supervise_rebuild

REGISTRY = Registry.load()


def test_the_generators_lead_waves_are_the_top_hotspots(tmp_path: Path) -> None:
    out = tmp_path / "campaign.jsonl"
    manifest = generate(GenerateOptions(unit="320400", events=6000, seed=11, out=out, lead_waves=3))
    waves = manifest["lead_waves"]["waves"]
    rules = load_rules()
    assert len(waves) == 3 and all(w["leads"] == rules.many_leads + 2 for w in waves)
    log = Log("t.")
    for line in out.read_bytes().splitlines():
        try:
            obj = json.loads(line)
        except ValueError:  # UnicodeDecodeError included
            continue  # a bad record of the generator's dirt: the archive takes valid events
        if (
            isinstance(obj, dict)
            and obj.get("source") in SOURCES
            and str(obj.get("unit")).isdigit()
        ):
            log.append([obj])
    archive_records(tmp_path / "archive", log.records, REGISTRY)
    rebuilt = rebuild_from_archive(tmp_path / "archive", list(log.topics.values()), None, REGISTRY)
    assert not isinstance(rebuilt.rebuild, type(None))
    sup = supervise_rebuild(
        rebuilt.rebuild,  # type: ignore[arg-type]
        parse_cutoff("progress"),
        rules,
        archive=tmp_path / "archive",
    )
    found = hotspots(sup.counts, REGISTRY, "320400", rules, top=3)
    flagged = {h.id for h in found["project"] if h.many and h.fast}
    assert flagged == {w["project_id"] for w in waves}
    employers = {h.id for h in found["employer"] if h.many and h.fast}
    assert employers == {w["employer_id"] for w in waves}


def test_without_waves_the_manifest_has_none(tmp_path: Path) -> None:
    manifest = generate(
        GenerateOptions(unit="320400", events=200, seed=1, out=tmp_path / "c.jsonl")
    )
    assert "lead_waves" not in manifest
