"""``generate()``: run the slot loop into one or two files, then write the manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from contracts.calendar import Campaign, load_campaign
from contracts.registry import Registry
from pipeline.generate.manifest import _manifest
from pipeline.generate.options import GenerateOptions, after_split_path, manifest_path
from pipeline.generate.sink import _Sink
from pipeline.generate.world import _World


def generate(
    options: GenerateOptions,
    *,
    registry: Registry | None = None,
    campaign: Campaign | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write the campaign and its manifest; return the manifest.

    ``progress`` is called now and then with the number of lines written so far.
    """
    if options.events < 0:
        raise ValueError(f"events must be >= 0, got {options.events}")
    registry = registry or Registry.load(options.registry_path)
    campaign = campaign or load_campaign(options.campaign_path)
    world = _World(options, registry, campaign)
    files = [_Sink(options.out, "all" if options.split_at is None else "known_by_split")]
    if options.split_at is not None:
        files.append(_Sink(after_split_path(options.out), "after_split"))
    try:
        for n, (line, recorded, kind) in enumerate(world.lines(), start=1):
            sink = (
                files[0] if options.split_at is None or recorded <= options.split_at else files[1]
            )
            sink.write(line, kind, world)
            if progress is not None and n % 20_000 == 0:
                progress(n)
    finally:
        for sink in files:
            sink.close()
    if progress is not None:
        progress(options.events)
    manifest = _manifest(options, world, campaign, files)
    path = manifest_path(options.out)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest
