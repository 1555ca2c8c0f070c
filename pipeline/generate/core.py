"""``generate()``: run the slot loop into one or two files, then write the manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from contracts.calendar import Campaign, load_campaign
from contracts.registry import Registry
from pipeline.generate.options import GenerateOptions, after_split_path, manifest_path
from pipeline.generate.output import Sink, build_manifest
from pipeline.generate.world import World


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
    world = World(options, registry, campaign)
    role = "all" if options.split_at is None else "known_by_split"
    files = [Sink(options.out, role, registry)]
    if options.split_at is not None:
        files.append(Sink(after_split_path(options.out), "after_split", registry))
    try:
        for n, (line, recorded, kind) in enumerate(world.lines(), start=1):
            sink = (
                files[0] if options.split_at is None or recorded <= options.split_at else files[1]
            )
            sink.write(line, kind)
            if progress is not None and n % 20_000 == 0:
                progress(n)
    finally:
        for sink in files:
            sink.close()
    if progress is not None:
        progress(options.events)
    manifest = build_manifest(options, campaign, world.state, files)
    waves = world.waves.manifest()
    if waves is not None:  # only then: the manifest without waves is pinned byte for byte
        manifest["lead_waves"] = waves
    path = manifest_path(options.out)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest
