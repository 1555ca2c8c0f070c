"""What ``arrears generate`` is asked for, and where its files go."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GenerateOptions:
    """What to generate. ``events`` is the number of lines written in all, dirt included."""

    unit: str
    events: int
    seed: int
    out: Path
    split_at: dt.datetime | None = None
    campaign_path: Path | None = None
    registry_path: Path | None = None
    #: projects whose leads jump before the progress cutoff (pipeline/generate/waves.py)
    lead_waves: int = 0


def manifest_path(out: Path) -> Path:
    """The manifest beside ``out``: ``FILE.manifest.json``."""
    return out.with_name(out.name + ".manifest.json")


def after_split_path(out: Path) -> Path:
    """The second file of a split run: ``campaign.jsonl`` -> ``campaign.after-split.jsonl``."""
    suffix = out.suffix or ".jsonl"
    return out.with_name(out.name.removesuffix(out.suffix) + ".after-split" + suffix)
