"""The manifest written beside the output: what was generated, counted per file and in all."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from contracts.calendar import Campaign
from pipeline.generate.options import GenerateOptions
from pipeline.generate.sink import _Sink

if TYPE_CHECKING:
    from pipeline.generate.world import _World

MANIFEST_FORMAT = "arrears-generate-manifest/1"


def _manifest(
    options: GenerateOptions, world: _World, campaign: Campaign, files: list[_Sink]
) -> dict[str, Any]:
    parts = [sink.summary() for sink in files]
    total: dict[str, Any] = {"lines": 0, "parsed_ok": 0, "events": 0}
    for key in total:
        total[key] = sum(p[key] for p in parts)
    merged: dict[str, Counter[str]] = {
        k: Counter() for k in ("by_source", "by_type", "bad_by_kind", "reasons")
    }
    dirt: Counter[str] = Counter()
    for p in parts:
        merged["by_source"].update(p["by_source"])
        merged["by_type"].update(p["by_type"])
        merged["bad_by_kind"].update(p["dirt"]["bad_by_kind"])
        merged["reasons"].update(p["dead_letter_reasons"])
        dirt.update({k: v for k, v in p["dirt"].items() if isinstance(v, int)})
    return {
        "format": MANIFEST_FORMAT,
        "generator": {
            "unit": options.unit,
            "events": options.events,
            "seed": options.seed,
            "split_at": options.split_at.isoformat() if options.split_at else None,
            "campaign": campaign.id,
            "window": [campaign.window_start.isoformat(), campaign.window_end.isoformat()],
            "late_arrival_means": "an event (clean, correction or retraction) with occurred_at <= "
            f"{world.progress_cutoff.isoformat()} < recorded_at",
            "units": [u.code for u in world.units],
        },
        "totals": {
            **total,
            "by_source": dict(sorted(merged["by_source"].items())),
            "by_type": dict(sorted(merged["by_type"].items())),
            "dirt": {
                **{
                    k: dirt[k]
                    for k in (
                        "exact_resend",
                        "conflicting_resend",
                        "correction",
                        "retraction",
                        "late_arrival",
                        "bad",
                    )
                },
                "bad_by_kind": dict(sorted(merged["bad_by_kind"].items())),
            },
            "dead_letter_reasons": dict(sorted(merged["reasons"].items())),
        },
        "files": parts,
    }
