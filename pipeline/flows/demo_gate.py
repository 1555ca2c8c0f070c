"""The demo's quality gate, as an operator goes through it: check, refused, fix what can be
fixed, dismiss the rest with reasons, check again, submitted.

Each step is a real `arrears` command (`Demo.arrears`); the summary keeps both verdicts and
points at each verdict page (`quality/index.html` beside the snapshot).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from pipeline.flows.demo_run import Demo, StepFailed, last_lines, latest_snapshot

__all__ = [
    "DISMISSALS",
    "check_and_submit",
    "corrected_snapshot",
    "dismiss_the_rest",
    "fix_dead_letters",
]

#: Why the demo's operator dismisses a dead letter of each reason: what the source system
#: said when asked. Other reasons get the generic one.
DISMISSALS = {
    "event_id.conflict": "the source system confirms the first version stands; the resend "
    "with other content was a retry of a half-edited record",
    "json.invalid": "the source system confirms the export was cut off mid-record; the "
    "record was sent again whole",
}
_DISMISS_ANY = "the source system confirms this record was junk ({reason}); nothing to resend"


def check_and_submit(
    demo: Demo, snapshot: Path, previous: Path, config: tuple[str, ...], *, name: str
) -> dict[str, Any]:
    """`check SNAPSHOT --previous PREVIOUS`, then `submit SNAPSHOT` (which reuses that check);
    the check's result, with the verdict page under `demo.outputs`."""
    demo.arrears(
        f"quality check ({name})",
        "check",
        str(snapshot),
        "--previous",
        str(previous),
        *config,
        ok=(0, 6),
    )
    quality = snapshot / "quality"
    result: dict[str, Any] = json.loads((quality / "check-result.json").read_text("utf-8"))
    verdict = "passed" if result["passed"] else "a critical expectation failed"
    critical = ", ".join(result["critical_failures"]) or "none"
    warnings = ", ".join(result["warnings"]) or "none"
    demo.note(
        "check",
        f"{snapshot.name}: {verdict}; critical: {critical}; warnings: {warnings} "
        f"(verdict page {quality / 'index.html'})",
    )
    submitted = demo.arrears(f"submit ({name})", "submit", str(snapshot), *config, ok=(0, 6))
    if result["passed"] != ("submitted:" in submitted):
        raise StepFailed(
            f"submit of {snapshot.name} disagrees with its check ({verdict}): "
            f"{last_lines(submitted, 2)}"
        )
    if result["passed"]:
        demo.outputs[f"verdict page ({name}: submitted)"] = quality / "index.html"
        demo.note(
            "submit",
            f"ACCEPTED: {snapshot.name} is the snapshot submitted for its cutoff "
            f"({snapshot.parent / 'submitted.json'})",
        )
    else:
        demo.outputs[f"verdict page ({name}: refused)"] = quality / "index.html"
        demo.note(
            "submit",
            f"REFUSED: {snapshot.name} is not submitted: {', '.join(result['critical_failures'])}",
        )
    return result


def fix_dead_letters(demo: Demo) -> int:
    """What an operator fixes: records without a time-zone offset get +08:00 (the source
    system's clock is China Standard Time), are resubmitted and counted once."""
    export = demo.run_dir / "dead-letters-no-offset.jsonl"
    demo.arrears(
        "dead letters: export the fixable",
        "deadletters",
        "export",
        "--reason",
        "occurred_at.no_offset",
        "--out",
        str(export),
    )
    fixed_lines = []
    for line in export.read_text(encoding="utf-8").splitlines():
        letter = json.loads(line)
        record = letter["record"]
        if isinstance(record, dict) and isinstance(record.get("occurred_at"), str):
            record["occurred_at"] += "+08:00"
        fixed_lines.append(json.dumps(letter, ensure_ascii=False))
    fixed = demo.run_dir / "dead-letters-fixed.jsonl"
    fixed.write_text("".join(line + "\n" for line in fixed_lines), encoding="utf-8")
    if not fixed_lines:
        demo.note("dead letters", "no record without a time-zone offset to fix")
        return 0
    demo.arrears(
        "dead letters: resubmit the fixed", "deadletters", "resubmit", str(fixed), ok=(0, 3)
    )
    again = demo.arrears(
        "dead letters: resubmit again", "deadletters", "resubmit", str(fixed), ok=(0, 3)
    )
    demo.note(
        "dead letters",
        f"FIXED: {len(fixed_lines)} records without a time-zone offset fixed and resubmitted; "
        f"their dead letters are marked resolved; resubmitting again: {last_lines(again, 1)}",
    )
    return len(fixed_lines)


def dismiss_the_rest(demo: Demo) -> int:
    """Every dead letter still open is dismissed, one command per reason, with why."""
    export = demo.run_dir / "dead-letters-open.jsonl"
    demo.arrears("dead letters: export the rest", "deadletters", "export", "--out", str(export))
    by_reason: dict[str, list[str]] = defaultdict(list)
    for line in export.read_text(encoding="utf-8").splitlines():
        meta = json.loads(line)["_deadletter"]
        by_reason[str(meta["reason"])].append(str(meta["id"]))
    for reason, ids in sorted(by_reason.items()):
        why = DISMISSALS.get(reason, _DISMISS_ANY.format(reason=reason))
        demo.arrears(
            f"dead letters: dismiss {reason}",
            "deadletters",
            "dismiss",
            *ids,
            "--reason",
            why,
            "--by",
            "demo operator",
        )
    total = sum(map(len, by_reason.values()))
    demo.note(
        "dead letters",
        f"DISMISSED: {total} dead letters that cannot be fixed ({len(by_reason)} reasons), each "
        "with who and why; kept, listed on the verdict page, no longer counted by the gate",
    )
    return total


def corrected_snapshot(demo: Demo, bootstrap: str, cutoff: str) -> Path:
    """The fixed records archived and folded: a new snapshot of the same cutoff."""
    demo.arrears("archive", "archive", "--until-end", "--quiet")
    demo.wait_for_workers(bootstrap)
    demo.arrears(
        "snapshot (corrected)", "snapshot", "--cutoff", cutoff, "--label", "corrected", "--quiet"
    )
    return latest_snapshot(demo.settings.state_dir / "snapshots", "corrected")
