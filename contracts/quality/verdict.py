"""The verdict page (`quality/index.html`): may this snapshot be submitted, and why.

>>> html = render_verdict(result, docs_dir, dead_letters)  # doctest: +SKIP

One self-contained HTML page, inline CSS, no script, nothing loaded: its first line is
the gate's answer; then the critical failures, the warnings (each with the offending
units/cells and the events behind them, as `arrears check` prints them), the dead letters
by reason, the freshness of each source, and links into the Data Docs beside it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

import polars as pl

from contracts.calendar import working_days_between
from contracts.cells import CELL_BY_ID
from contracts.clock import CST
from contracts.errors import ContractError
from contracts.quality.result import SKIPPED, CheckResult, Outcome
from contracts.registry import Registry
from contracts.supervision import load_rules

__all__ = ["VERDICT_FILE", "render_verdict", "verdict_line"]

VERDICT_FILE = "index.html"
_LISTED = 50  # rows per table on the page; the count says how many more

_STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;padding:.5em;border-radius:4px}
h1.pass{background:#e3f4e3;color:#175e17}h1.fail{background:#fbe3e3;color:#8a1010}
h1.warn{background:#fff4d6;color:#6b4e00}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;
padding:.25em .5em;vertical-align:top;text-align:left;font-size:.9em}
th{background:#f0f0f0}.critical{color:#8a1010;font-weight:bold}.warning{color:#8a6100;
font-weight:bold}.muted{color:#777}dl{display:grid;grid-template-columns:max-content
minmax(0,1fr);gap:.2em 1em}dt{font-weight:bold}dd{margin:0}
dd,td,p,h3{overflow-wrap:anywhere}
"""


def verdict_line(result: CheckResult) -> str:
    """The page's first line: the gate's answer and its reason, in the form's language."""
    fails, warns = result.critical_failures, result.warnings
    if fails:
        return (
            f"不得报送 / may NOT be submitted: {len(fails)} critical expectation(s) failed: "
            + ", ".join(o.check for o in fails)
        )
    tail = (
        f", {len(warns)} warning(s) to read: " + ", ".join(o.check for o in warns) if warns else ""
    )
    return f"可以报送 / may be submitted: no critical expectation failed{tail}"


def render_verdict(
    result: CheckResult,
    docs_dir: Path | None,
    dead_letters: pl.DataFrame | None = None,
    registry: Registry | None = None,
) -> str:
    """The verdict page's HTML; links to the Data Docs are relative to `docs_dir`'s parent."""
    registry = registry or Registry.load()
    fails, warns = result.critical_failures, result.warnings
    css = "fail" if fails else ("warn" if warns else "pass")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>质量检查 {escape(result.snapshot_id or result.snapshot)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f'<h1 id="verdict" class="{css}">{escape(verdict_line(result))}</h1>',
        _about(result, registry),
        _section("critical", "严重问题 Critical failures", fails, registry),
        _section("warnings", "警告 Warnings", warns, registry),
        _skipped(result.outcomes),
        _letters(dead_letters),
        _freshness(result),
        _docs(docs_dir),
        _passed(result.outcomes),
        "</body></html>\n",
    ]
    return "\n".join(p for p in parts if p)


def _about(result: CheckResult, registry: Registry) -> str:
    unit = registry.unit(result.unit).filer if result.unit in registry else ""
    rows = [
        ("填报单位 unit", f"{result.unit} {unit}"),
        ("截止时间 cutoff", result.cutoff),
        ("快照 snapshot", f"{result.snapshot_id or ''} ({result.snapshot})"),
        ("上期快照 previous", result.previous or "none: the fall check was not run"),
        ("检查时间 checked at", result.checked_at),
        ("事件数 archived events", "" if result.event_rows is None else f"{result.event_rows:,}"),
        ("查实未结案件 open verified cases", _open_cases(result)),
    ]
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in rows)
    return f'<dl id="about">{body}</dl>'


def _open_cases(result: CheckResult) -> str:
    """How many verified cases remain open (the no_open_cases outcome, per unit's own cell)
    and the working days from the cutoff to the campaign's deadline (its [supervision])."""
    try:
        outcome = result.outcome("snapshot.no_open_cases")
    except KeyError:
        return "not checked"
    still = sum(int(r.get("value", 0)) for r in outcome.offending) if outcome.failed else 0
    more = " or more" if outcome.offending_count > len(outcome.offending) else ""
    try:
        deadline = load_rules().deadline
        cutoff = dt.datetime.fromisoformat(result.cutoff).astimezone(CST).date()
    except (ContractError, ValueError):
        return f"{still}{more}"
    left = working_days_between(cutoff, deadline.date())
    return (
        f"{still}{more}; {left} working days from the cutoff to the deadline "
        f"{deadline.date().isoformat()} (all closed before the Spring Festival)"
    )


def _section(key: str, title: str, outcomes: list[Outcome], registry: Registry) -> str:
    if not outcomes:
        return f'<h2 id="{key}">{escape(title)}</h2><p class="muted">none</p>'
    blocks = [f'<h2 id="{key}">{escape(title)} ({len(outcomes)})</h2>']
    for o in outcomes:
        grade = "critical" if o.grade == "critical" else "warning"
        blocks.append(
            f'<h3 class="outcome" data-check="{escape(o.check)}">'
            f'<span class="{grade}">[{grade}]</span> {escape(o.check)}: {escape(o.title)}</h3>'
            f"<p>observed: {escape(o.observed)}"
            + (f"<br>{escape(o.note)}" if o.note else "")
            + "</p>"
        )
        if o.offending:
            shown = sorted(o.offending, key=lambda r: r.get("scope") == "rollup")
            blocks.append(
                f"<p>offending units / cells: {o.offending_count}</p>"
                + _table(shown, o.offending_count, "offending", registry)
            )
        if o.evidence:
            blocks.append(
                "<p>events behind them:</p>"
                + _table(o.evidence, len(o.evidence), "evidence", registry)
            )
    return "\n".join(blocks)


def _table(records: list[dict[str, Any]], total: int, kind: str, registry: Registry) -> str:
    columns: list[str] = []
    for r in records[:_LISTED]:
        columns += [k for k in r if k not in columns]
    head = "".join(f"<th>{escape(_label(c))}</th>" for c in columns)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{escape(_cell(c, r.get(c), registry))}</td>" for c in columns)
        + "</tr>"
        for r in records[:_LISTED]
    )
    more = total - min(total, _LISTED)
    tail = f'<p class="muted">(+{more} more in check-result.json)</p>' if more > 0 else ""
    return f'<table class="{kind}"><tr>{head}</tr>{rows}</table>{tail}'


_LABELS = {"unit": "单位 unit", "cell": "指标 cell", "value": "数值 value", "scope": "范围 scope"}


def _label(column: str) -> str:
    return _LABELS.get(column, column)


def _cell(column: str, value: Any, registry: Registry) -> str:
    if value is None:
        return ""
    text = str(value)
    if column == "unit" and text in registry:
        return f"{text} {registry.unit(text).name}"
    if column == "cell" and text in CELL_BY_ID:
        return f"{text} ({CELL_BY_ID[text].label})"
    return text


def _skipped(outcomes: Iterable[Outcome]) -> str:
    items = [o for o in outcomes if o.status == SKIPPED]
    if not items:
        return ""
    li = "".join(f"<li>{escape(o.check)}: {escape(o.note)}</li>" for o in items)
    return f'<h2 id="skipped">未运行 Not run ({len(items)})</h2><ul>{li}</ul>'


def _letters(letters: pl.DataFrame | None) -> str:
    title = '<h2 id="dead-letters">死信 Dead letters</h2>'
    if letters is None:
        return title + '<p class="muted">not read (--dead-letters none)</p>'
    status = letters.get_column("status") if "status" in letters.columns else None
    open_ = letters if status is None else letters.filter(pl.col("status") == "open")
    dismissed = (
        letters.head(0) if status is None else letters.filter(pl.col("status") == "dismissed")
    )
    out = [title, f"<p>{open_.height} open, {dismissed.height} dismissed</p>"]
    if open_.height:
        rows = []
        for reason, group in sorted(open_.group_by("reason"), key=lambda g: -g[1].height):
            where = [f"{f}:{n}" for f, n in zip(group["file"], group["line"], strict=True)]
            listed = ", ".join(str(w) for w in where[:10])
            more = f" (+{len(where) - 10} more)" if len(where) > 10 else ""
            sample = str(group["message"][0]) if "message" in group.columns else ""
            rows.append(
                f"<tr><td>{escape(str(reason[0]))}</td><td>{group.height}</td>"
                f"<td>{escape(listed + more)}</td><td>{escape(sample)}</td></tr>"
            )
        out.append(
            '<table class="dead-letters"><tr><th>原因 reason</th><th>件数 count</th>'
            "<th>file:line</th><th>message (first)</th></tr>" + "".join(rows) + "</table>"
        )
    if dismissed.height:
        cols = [
            c
            for c in ("id", "reason", "file", "line", "dismissed_by", "dismissed_at", "dismissal")
            if c in dismissed.columns
        ]
        recs = dismissed.select(cols).head(_LISTED).to_dicts()
        out.append(
            "<h3>已核销 Dismissed</h3>"
            + _table(recs, dismissed.height, "dismissed", Registry.load())
        )
    return "\n".join(out)


def _freshness(result: CheckResult) -> str:
    title = '<h2 id="freshness">数据源时效 Freshness of each source</h2>'
    if not result.freshness:
        return title + '<p class="muted">not known: the event suite did not run</p>'
    rows = "".join(_fresh_row(f) for f in result.freshness)
    return (
        title
        + '<table class="freshness"><tr><th>来源 source</th><th>last event before the cutoff</th>'
        "<th>silent days</th><th>allowed days</th><th></th></tr>" + rows + "</table>"
    )


def _fresh_row(f: dict[str, Any]) -> str:
    state, css = ("alive", "muted") if f["alive"] else ("DEAD", "critical")
    cells = [f["source"], f["last_event"] or "none", f["silent_days"], f["allowed_days"]]
    tds = "".join(f"<td>{escape(str(c))}</td>" for c in cells)
    return f'<tr>{tds}<td class="{css}">{state}</td></tr>'


def _docs(docs_dir: Path | None) -> str:
    title = '<h2 id="data-docs">Data Docs</h2>'
    if docs_dir is None or not (docs_dir / "index.html").is_file():
        return title + '<p class="muted">not written</p>'
    base = docs_dir.parent

    def link(path: Path, text: str) -> str:
        href = os.path.relpath(path, base).replace(os.sep, "/")
        return f'<li><a href="{escape(href)}">{escape(text)}</a></li>'

    items = [link(docs_dir / "index.html", "index of the Data Docs")]
    for page in sorted((docs_dir / "validations").rglob("*.html")):
        batch = page.relative_to(docs_dir / "validations").parts[1]
        items.append(link(page, f"validation: arrears.{batch}"))
    return title + '<ul class="docs">' + "".join(items) + "</ul>"


def _passed(outcomes: Iterable[Outcome]) -> str:
    items = [o for o in outcomes if o.status == "passed"]
    li = "".join(
        f'<li>{escape(o.check)} <span class="muted">{escape(o.grade)}</span></li>' for o in items
    )
    return f'<h2 id="passed">通过 Passed ({len(items)})</h2><ul>{li}</ul>'
