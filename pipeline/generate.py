"""A realistic synthetic winter campaign as JSON Lines (SPEC 5), with counted, controlled dirt.

The generator walks the campaign window slot by slot: slot ``i`` of ``N`` gets an event time
from a curve that rises toward the Spring Festival (fewer events on rest days and at night),
and produces exactly one line. Entities (employers, projects, open cases, open leads) live in
bounded pools so that later events can refer to earlier ones (a case verified, then ordered,
transferred, resolved; a lead received, merged, verified, closed) while memory stays flat:
10,000,000 lines stream out with the same footprint as 10,000.

Every line is one of:

- a clean event (``clean``), some of them deliberately late (occurred on or before the
  progress cutoff, recorded after it: ``late_arrival``);
- ``exact_resend``: an earlier event again, same ``event_id`` and content, other key order
  and white space (a no-op for the ledger);
- ``conflicting_resend``: an earlier ``event_id`` with different content and no
  ``supersedes`` (the ledger dead-letters it);
- ``correction``: a new event that ``supersedes`` an earlier one;
- ``retraction``: an ``event.retracted`` of an earlier event;
- ``bad``: a record the contracts reject, of one of the kinds in ``BAD_KINDS``.

The manifest written beside the output (``FILE.manifest.json``) counts all of these per
output file, and the dead-letter reasons the contracts give for the bad lines.

    >>> manifest = generate(GenerateOptions(unit="320400", events=1000, seed=7,
    ...                                     out=Path("/tmp/c.jsonl")))  # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import random
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.calendar import Campaign, is_working_day, load_campaign
from contracts.errors import ValidationError
from contracts.events import TYPES, parse_event
from contracts.registry import Registry, Unit
from contracts.uscc import CHARSET, make_uscc, org_check_digit, uscc_check_char

__all__ = ["BAD_KINDS", "GenerateOptions", "MANIFEST_FORMAT", "generate", "manifest_path"]

MANIFEST_FORMAT = "arrears-generate-manifest/1"
CST = dt.timezone(dt.timedelta(hours=8))

# --- rates of the controlled dirt, per line -------------------------------------------------
P_BAD = 0.005
P_EXACT_RESEND = 0.01
P_CONFLICT = 0.001
P_CORRECTION = 0.004
P_RETRACTION = 0.002
#: In the first week after the progress cutoff, this share of slots is a late arrival, and
#: corrections and retractions of late-December events are this many times as frequent.
P_LATE_IN_FIRST_WEEK = 0.25
JANUARY_FIX_BOOST = 5

# --- bounded pools --------------------------------------------------------------------------
EMPLOYERS_TOTAL = 12_000
PROJECTS_TOTAL = 3_000
OPEN_CASES_MAX = 6_000
OPEN_LEADS_MAX = 6_000
RECENT_MAX = 512
DECEMBER_MAX = 2_000

#: Relative frequency of each event type in a clean slot (pool-dependent types fall back to
#: creating ones when their pool is empty).
TYPE_WEIGHTS: dict[tuple[str, str], float] = {
    ("inspection", "employer.inspected"): 0.26,
    ("inspection", "arrears.verified"): 0.075,
    ("inspection", "arrears.resolved"): 0.07,
    ("inspection", "order.issued"): 0.05,
    ("inspection", "case.transferred"): 0.008,
    ("inspection", "case.filed"): 0.008,
    ("inspection", "employer.published"): 0.003,
    ("inspection", "employer.blacklisted"): 0.003,
    ("mediation", "dispute.resolved"): 0.10,
    ("court", "execution.concluded"): 0.035,
    ("complaint", "lead.received"): 0.17,
    ("complaint", "lead.merged"): 0.02,
    ("complaint", "lead.verified"): 0.09,
    ("complaint", "lead.closed"): 0.07,
}
_TYPE_KEYS = list(TYPE_WEIGHTS)
_TYPE_CUM = [sum(list(TYPE_WEIGHTS.values())[: i + 1]) for i in range(len(TYPE_WEIGHTS))]
POLICE_FILING_SHARE = 0.76  # of transfers; some are still pending at the end

ROWS = ("construction", "manufacturing", "services", "other")
#: Which rows the employers of each kind of event come from: construction dominates arrears.
ROW_WEIGHTS = {
    "inspection": (0.36, 0.32, 0.25, 0.07),
    "arrears": (0.62, 0.18, 0.15, 0.05),
    "dispute": (0.40, 0.25, 0.30, 0.05),
}
#: GB/T 4754-2017 codes employers are drawn from, per report row, each with the words its
#: company names use (division, group or class codes; some with the section letter).
INDUSTRIES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "construction": (
        ("4710", ("建设工程", "建工集团", "建筑劳务")), ("E4710", ("建设工程", "建筑劳务")),
        ("4790", ("建设工程",)), ("4811", ("路桥工程",)), ("4813", ("市政工程", "路桥工程")),
        ("482", ("水利工程",)), ("4851", ("土石方工程",)), ("E48", ("市政工程",)),
        ("487", ("电力工程",)), ("491", ("机电安装工程", "建筑安装工程")),
        ("4920", ("管道安装工程",)), ("5011", ("装饰工程",)), ("5012", ("装饰工程", "家装")),
        ("5013", ("幕墙工程",)), ("502", ("拆除工程",)), ("50", ("建筑劳务",))),
    "manufacturing": (
        ("1713", ("纺织",)), ("1810", ("服饰",)), ("2110", ("家具",)), ("2927", ("塑业",)),
        ("3011", ("建材",)), ("3311", ("钢结构",)), ("3360", ("五金制品",)),
        ("3442", ("精密机械", "机械制造")), ("C34", ("机械制造",)), ("3484", ("机械制造",)),
        ("3670", ("汽车零部件",)), ("C3670", ("汽车零部件",)), ("3824", ("电气设备",)),
        ("3841", ("电池科技",)), ("3971", ("电子科技",)), ("4011", ("仪表",)),
        ("2651", ("新材料",))),
    "services": (
        ("4310", ("金属制品修理",)), ("0511", ("农业技术服务",)), ("1120", ("油田技术服务",)),
        ("5121", ("商贸",)), ("5211", ("商贸", "超市")), ("5430", ("物流", "运输")),
        ("5436", ("供应链管理",)), ("6020", ("快递服务",)), ("6110", ("酒店管理",)),
        ("6210", ("餐饮管理",)), ("6513", ("软件",)), ("7020", ("物业管理",)),
        ("7262", ("人力资源",)), ("7281", ("保安服务",)), ("8010", ("家政服务",)),
        ("8111", ("汽车服务",))),
    "other": (
        ("0111", ("农业发展",)), ("0131", ("生态农业",)), ("0412", ("水产养殖",)),
        ("1011", ("矿业",)), ("4411", ("热电",)), ("4415", ("新能源",)), ("4430", ("热力",)),
        ("4610", ("水务",)), ("4620", ("水务",))),
}
#: Platform employers (new forms of employment: riders, drivers).
_PLATFORM_INDUSTRIES = (("5430", ("出行服务",)), ("6020", ("即时配送", "同城配送")),
                        ("6420", ("网络科技",)), ("I6420", ("信息技术", "网络科技")))
_BRAND1 = "宏恒华中金瑞鼎盛永新东润嘉福德兴安泰龙腾晨汇博远天正裕启明"
_BRAND2 = "达信建天诚丰盛泰源祥和利通昌发业阳辉远邦锦程宇峰华晟"
_SHOPS = {
    "construction": ("装修队", "装饰工作室", "水电安装部"),
    "manufacturing": ("五金加工厂", "服装加工厂", "模具加工部"),
    "services": ("餐馆", "汽修店", "便利店", "快递服务部", "理发店"),
    "other": ("家庭农场", "养殖场", "苗圃"),
}
_PLACES = ("湖塘", "牛塘", "湟里", "雪堰", "横林", "礼嘉", "青龙", "茶山", "红梅", "新闸",
           "邹区", "西夏墅", "春江", "孟河", "薛家", "罗溪", "直溪", "尧塘", "埭头", "南渡",
           "长江路", "龙城大道", "延政路", "通江大道", "常澄路", "滨江", "城东", "高新")
#: Project kinds: (name pattern, P(government investment), P(state-owned enterprise)).
_PROJECT_KINDS = (
    ("{p}安置房{n}期工程", 0.85, 0.35), ("{p}人才公寓项目", 0.6, 0.5),
    ("{p}道路改造工程", 0.95, 0.3), ("{p}污水管网工程", 0.9, 0.4),
    ("{p}小学新建工程", 0.95, 0.2), ("{p}医院门诊楼工程", 0.9, 0.25),
    ("城市轨道交通{n}号线{p}站土建施工项目", 0.8, 0.9), ("{p}商住小区{n}期工程", 0.05, 0.2),
    ("{p}产业园标准厂房项目", 0.3, 0.4), ("{p}物流园仓储中心项目", 0.05, 0.15),
    ("{p}河道综合整治工程", 0.95, 0.35), ("{p}变电站新建工程", 0.2, 0.95),
)
_PROVINCE_CHAR = {"11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽",
                  "22": "吉", "23": "黑", "31": "沪", "32": "苏", "33": "浙", "34": "皖",
                  "35": "闽", "36": "赣", "37": "鲁", "41": "豫", "42": "鄂", "43": "湘",
                  "44": "粤", "45": "桂", "46": "琼", "50": "渝", "51": "川", "52": "贵",
                  "53": "云", "54": "藏", "61": "陕", "62": "甘", "63": "青", "64": "宁",
                  "65": "新"}
_RETRACT_REASONS = ("重复录入", "录入单位错误", "经复核不属于欠薪案件", "系统测试数据", "已并案处理")

#: Bad-record kinds: name -> (event types it applies to, or None for any; the reason code
#: the contracts are expected to give). The manifest counts what parse_event actually says.
BAD_KINDS: dict[str, tuple[tuple[str, ...] | None, str]] = {
    "bad_json": (None, "json.invalid"),
    "bad_utf8": (None, "json.utf8"),
    "not_an_object": (None, "json.not_object"),
    "duplicate_key": (None, "json.duplicate_key"),
    "missing_field": (None, "field.missing"),
    "unknown_field": (None, "field.unknown"),
    "unknown_source": (None, "source.unknown"),
    "unknown_type": (None, "type.unknown"),
    "type_of_other_source": (None, "type.wrong_source"),
    "time_without_offset": (None, "occurred_at.no_offset"),
    "time_not_iso": (None, "occurred_at.format"),
    "unknown_unit": (None, "unit.unknown"),
    "supersedes_itself": (None, "supersedes.self"),
    "uscc_check_char": (None, "uscc.check_char"),
    "uscc_org_check": (None, "uscc.org_check"),
    "uscc_length": (None, "uscc.length"),
    "industry_wrong_section": (None, "industry.section"),
    "industry_unknown_division": (None, "industry.division"),
    "amount_negative": (("arrears.verified", "dispute.resolved", "execution.concluded"),
                        "amount.negative"),
    "amount_three_decimals": (("arrears.verified", "dispute.resolved", "execution.concluded"),
                              "amount.decimals"),
    "amount_not_string": (("arrears.verified", "dispute.resolved", "execution.concluded"),
                          "amount.type"),
    "workers_negative": (("employer.inspected", "dispute.resolved", "execution.concluded"),
                         "workers.negative"),
    "migrant_exceeds_workers": (("employer.inspected",), "migrant_workers.exceeds_workers"),
    "bad_case_no": (("execution.concluded",), "case_no.format"),
    "unknown_channel": (("dispute.resolved",), "channel.unknown"),
    "flag_not_boolean": (("dispute.resolved", "execution.concluded"),
                         "new_employment_form.type"),
    "unknown_method": (("employer.inspected",), "method.unknown"),
}
_SELF_CONTAINED = ("employer.inspected", "arrears.verified", "dispute.resolved",
                   "execution.concluded")
_CORRECTABLE = frozenset({"employer.inspected", "arrears.verified", "arrears.resolved",
                          "dispute.resolved", "execution.concluded", "lead.received"})
_RETRACTABLE = _CORRECTABLE | {"order.issued", "employer.published"}
_COMPACT = (",", ":")


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


def manifest_path(out: Path) -> Path:
    """The manifest beside ``out``: ``FILE.manifest.json``."""
    return out.with_name(out.name + ".manifest.json")


def after_split_path(out: Path) -> Path:
    """The second file of a split run: ``campaign.jsonl`` -> ``campaign.after-split.jsonl``."""
    suffix = out.suffix or ".jsonl"
    return out.with_name(out.name.removesuffix(out.suffix) + ".after-split" + suffix)


def generate(options: GenerateOptions, *, registry: Registry | None = None,
             campaign: Campaign | None = None,
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
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
            sink = files[0] if options.split_at is None or recorded <= options.split_at \
                else files[1]
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


# --- output ---------------------------------------------------------------------------------

class _Sink:
    """One output file and its counters."""

    def __init__(self, path: Path, role: str) -> None:
        self.path = path
        self.role = role
        self.handle = path.open("wb", buffering=1 << 20)
        self.lines = 0
        self.kinds: Counter[str] = Counter()
        self.bad_kinds: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.by_type: Counter[tuple[str, str]] = Counter()

    def write(self, line: bytes, kind: _Kind, world: _World) -> None:
        self.handle.write(line)
        self.handle.write(b"\n")
        self.lines += 1
        self.kinds[kind.name] += 1
        if kind.name == "bad":
            self.bad_kinds[kind.bad] += 1
            self.reasons[world.reason_of(line)] += 1
        elif kind.name == "conflicting_resend":
            self.reasons["event_id.conflict"] += 1
        if kind.counts_as_event:
            self.by_type[(kind.source, kind.type)] += 1
        if kind.late:
            self.kinds["late_arrival"] += 1

    def close(self) -> None:
        self.handle.close()

    def summary(self) -> dict[str, Any]:
        events = sum(self.by_type.values())
        return {
            "path": self.path.name,
            "role": self.role,
            "lines": self.lines,
            "parsed_ok": self.lines - self.kinds["bad"],
            "events": events,
            "by_source": dict(sorted(_by_source(self.by_type).items())),
            "by_type": {f"{s}/{t}": n for (s, t), n in sorted(self.by_type.items())},
            "dirt": {
                "exact_resend": self.kinds["exact_resend"],
                "conflicting_resend": self.kinds["conflicting_resend"],
                "correction": self.kinds["correction"],
                "retraction": self.kinds["retraction"],
                "late_arrival": self.kinds["late_arrival"],
                "bad": self.kinds["bad"],
                "bad_by_kind": dict(sorted(self.bad_kinds.items())),
            },
            "dead_letter_reasons": dict(sorted(self.reasons.items())),
        }


def _by_source(by_type: Counter[tuple[str, str]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (source, _), n in by_type.items():
        out[source] += n
    return out


def _manifest(options: GenerateOptions, world: _World, campaign: Campaign,
              files: list[_Sink]) -> dict[str, Any]:
    parts = [sink.summary() for sink in files]
    total: dict[str, Any] = {"lines": 0, "parsed_ok": 0, "events": 0}
    for key in total:
        total[key] = sum(p[key] for p in parts)
    merged: dict[str, Counter[str]] = {k: Counter() for k in
                                       ("by_source", "by_type", "bad_by_kind", "reasons")}
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
            "unit": options.unit, "events": options.events, "seed": options.seed,
            "split_at": options.split_at.isoformat() if options.split_at else None,
            "campaign": campaign.id, "window": [campaign.window_start.isoformat(),
                                                campaign.window_end.isoformat()],
            "late_arrival_means": "an event (clean, correction or retraction) with occurred_at <= "
                                  f"{world.progress_cutoff.isoformat()} < recorded_at",
            "units": [u.code for u in world.units],
        },
        "totals": {
            **total,
            "by_source": dict(sorted(merged["by_source"].items())),
            "by_type": dict(sorted(merged["by_type"].items())),
            "dirt": {**{k: dirt[k] for k in ("exact_resend", "conflicting_resend", "correction",
                                             "retraction", "late_arrival", "bad")},
                     "bad_by_kind": dict(sorted(merged["bad_by_kind"].items()))},
            "dead_letter_reasons": dict(sorted(merged["reasons"].items())),
        },
        "files": parts,
    }


# --- the world: units, time, pools ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Kind:
    name: str                   # clean, exact_resend, conflicting_resend, correction, ...
    source: str = ""
    type: str = ""
    late: bool = False
    bad: str = ""

    @property
    def counts_as_event(self) -> bool:
        return self.name in ("clean", "correction", "retraction")


@dataclass(slots=True)
class _Employer:
    obj: dict[str, str]          # the JSON object events carry
    row: str
    size: int
    migrant_share: float
    platform: bool


@dataclass(slots=True)
class _Case:
    case_id: str
    unit: str
    employer: _Employer
    project: dict[str, Any] | None
    workers: int
    amount_fen: int
    at: int                      # epoch seconds of the verification


@dataclass(slots=True)
class _Lead:
    lead_id: str
    unit: str
    at: int


@dataclass(slots=True)
class _Sent:
    """An event already written, kept for resends, corrections and retractions."""

    obj: dict[str, Any]
    occurred: int
    recorded: int
    used: bool = False


class _Timeline:
    """Slot ``i`` of ``n`` -> an event time: hourly buckets weighted by a rising curve."""

    HOUR_WEIGHTS = (1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 3, 8, 10, 10, 9, 4, 5, 10, 10, 9, 7, 4, 3, 2,
                    2, 1.5, 1)

    def __init__(self, campaign: Campaign, n: int) -> None:
        start = campaign.window_start.astimezone(CST)
        self.start = int(start.timestamp())
        self.end = int(campaign.window_end.timestamp())
        days = (campaign.window_end.date() - start.date()).days + 1
        cum, total = [], 0.0
        for d in range(days):
            day = start.date() + dt.timedelta(days=d)
            growth = 1.0 + 2.5 * (d / max(days - 1, 1)) ** 2
            day_weight = growth * (1.0 if is_working_day(day) else 0.3)
            for h in range(24):
                total += day_weight * self.HOUR_WEIGHTS[h]
                cum.append(total)
        self.cum = [c / total for c in cum]
        self.n = max(n, 1)

    def at(self, i: int) -> float:
        q = (i + 0.5) / self.n
        k = bisect.bisect_left(self.cum, q)
        lo = self.cum[k - 1] if k else 0.0
        frac = (q - lo) / ((self.cum[k] - lo) or 1.0)
        return self.start + (k + frac) * 3600.0


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, CST).isoformat()


class _World:
    def __init__(self, options: GenerateOptions, registry: Registry, campaign: Campaign) -> None:
        self.options = options
        self.registry = registry
        self.rng = random.Random(options.seed)
        self.units: tuple[Unit, ...] = registry.subtree(options.unit)
        self.campaign = campaign
        self.start = int(campaign.window_start.timestamp())
        self.end = int(campaign.window_end.timestamp())
        progress = campaign.cutoffs.get("progress")
        self.progress_cutoff = progress.at if progress else campaign.window_end
        self.cutoff = int(self.progress_cutoff.timestamp())
        self.timeline = _Timeline(campaign, options.events)
        rng = self.rng
        self.unit_codes = [u.code for u in self.units]
        leaves = {u.code for u in self.units if not registry.children(u.code)}
        weights = [rng.uniform(0.6, 1.6) if u.code in leaves else 0.25 for u in self.units]
        self.unit_cum = _cumulative(weights)
        self.division = {u.code: self._official(u) for u in self.units}
        self.abbr = {u.code: self._abbr(u) for u in self.units}
        self.elsewhere = [u.code for u in registry if u.official and u.code[2:] != "0000"]
        cap = max(50, EMPLOYERS_TOTAL // (len(self.units) * len(ROWS)))
        self.employer_cap = cap
        self.employers: dict[tuple[str, str], list[_Employer]] = {}
        self.project_cap = max(20, PROJECTS_TOTAL // len(self.units))
        self.projects: dict[str, list[dict[str, Any]]] = {}
        self.open_cases: list[_Case] = []
        self.to_file: list[_Case] = []
        self.received_leads: list[_Lead] = []
        self.verified_leads: list[_Lead] = []
        self.merges: deque[tuple[str, str, str, int]] = deque(maxlen=OPEN_LEADS_MAX)
        self.recent: deque[_Sent] = deque(maxlen=RECENT_MAX)
        self.fixable: deque[_Sent] = deque(maxlen=RECENT_MAX)
        self.december: list[_Sent] = []
        self.december_seen = 0
        self.seq = 0
        self.numbers: Counter[tuple[str, str, int]] = Counter()
        self.bad_order: list[str] = []
        self.now = self.start
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=_COMPACT).encode

    # -- setup helpers --

    def _official(self, unit: Unit) -> str:
        current: Unit | None = unit
        while current is not None and not current.official:
            current = self.registry.unit(current.parent) if current.parent else None
        return current.code if current is not None else "110000"

    def _abbr(self, unit: Unit) -> str:
        chain = [unit, *self.registry.ancestors(unit.code)]
        city = next((u for u in chain if u.code[4:] == "00" and u.code[2:] != "0000"), None)
        if city is None:
            return _PROVINCE_CHAR.get(unit.code[:2], unit.name[:1])
        if city.code == unit.code:
            return city.name[:1]
        return city.name[:1] + unit.name.removeprefix(city.name.removesuffix("市"))[:1]

    # -- the slot loop --

    def lines(self) -> Iterator[tuple[bytes, dt.datetime, _Kind]]:
        rng = self.rng
        first_week_end = self.cutoff + 7 * 86400
        for i in range(self.options.events):
            t = int(self.timeline.at(i) + rng.uniform(-90, 90))
            t = min(max(t, self.start), self.end)
            self.now = max(self.now, t)
            january = self.cutoff < t <= first_week_end
            boost = JANUARY_FIX_BOOST if january and self.december else 1
            r = rng.random()
            out: tuple[bytes, int, _Kind] | None = None
            if r < P_BAD:
                out = self._bad(t)
            elif (r := r - P_BAD) < P_EXACT_RESEND:
                out = self._exact_resend()
            elif (r := r - P_EXACT_RESEND) < P_CONFLICT:
                out = self._conflict()
            elif (r := r - P_CONFLICT) < P_CORRECTION * boost:
                out = self._correction(t, january)
            elif (r := r - P_CORRECTION * boost) < P_RETRACTION * boost:
                out = self._retraction(t, january)
            elif january and rng.random() < P_LATE_IN_FIRST_WEEK:
                late_at = rng.randint(self.cutoff - 6 * 86400, self.cutoff)
                out = self._clean(late_at, late=True, recorded=t)
            if out is None:
                out = self._clean(t)
            line, recorded, kind = out
            yield line, dt.datetime.fromtimestamp(recorded, CST), kind

    # -- clean events --

    def _clean(self, t: int, *, late: bool = False,
               recorded: int | None = None) -> tuple[bytes, int, _Kind]:
        rng = self.rng
        if late:
            source, type_ = "inspection", rng.choice(_SELF_CONTAINED)
            if type_ == "dispute.resolved":
                source = "mediation"
            elif type_ == "execution.concluded":
                source = "court"
        else:
            source, type_ = _TYPE_KEYS[bisect.bisect_left(_TYPE_CUM, rng.random() * _TYPE_CUM[-1])]
        obj, occurred = self._event(source, type_, t)
        rec = recorded if recorded is not None else occurred + self._delay(type_)
        obj["recorded_at"] = _iso(rec)
        _order_envelope(obj)
        self._remember(obj, occurred, rec)
        is_late = occurred <= self.cutoff < rec
        return self._encode(obj), rec, _Kind("clean", obj["source"], obj["type"], is_late)

    def _event(self, source: str, type_: str, t: int) -> tuple[dict[str, Any], int]:
        """Build one event of (source, type) at about time t, falling back when a pool is empty."""
        make = getattr(self, "_ev_" + type_.replace(".", "_"))
        result = make(t)
        if result is None:  # pool empty: create instead
            fallback = {"complaint": "lead.received", "mediation": "dispute.resolved",
                        "court": "execution.concluded"}.get(source)
            if fallback is None:
                fallback = "arrears.verified" if self.rng.random() < 0.3 else "employer.inspected"
            type_ = fallback
            result = getattr(self, "_ev_" + type_.replace(".", "_"))(t)
        unit, payload, occurred = result
        obj = {"event_id": self._event_id(source, unit), "source": source, "type": type_,
               "occurred_at": _iso(occurred), "unit": unit, "payload": payload}
        return obj, occurred

    def _ev_employer_inspected(self, t: int) -> tuple[str, dict[str, Any], int]:
        rng = self.rng
        unit = self._unit()
        emp = self._employer(unit, "inspection")
        payload: dict[str, Any] = {"employer": emp.obj}
        if emp.row == "construction" and rng.random() < 0.75 or rng.random() < 0.03:
            payload["project"] = self._project(unit)
        workers = max(1, round(emp.size * rng.uniform(0.93, 1.05)))
        migrant = min(workers, round(workers * emp.migrant_share * rng.uniform(0.9, 1.1)))
        payload.update(workers=workers, migrant_workers=migrant,
                       method=_pick(rng, (("onsite", 55), ("online", 30), ("complaint", 15))))
        return unit, payload, t

    def _ev_arrears_verified(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        rng = self.rng
        if len(self.open_cases) >= OPEN_CASES_MAX:
            return self._ev_arrears_resolved(t)
        unit = self._unit()
        emp = self._employer(unit, "arrears")
        project = self._project(unit) if emp.row == "construction" and rng.random() < 0.85 \
            else None
        workers = max(1, min(emp.size, int(rng.paretovariate(1.3) * 3)))
        amount = workers * self._per_worker(emp.row)
        case = _Case(self._case_id(unit, t), unit, emp, project, workers, amount, t)
        self.open_cases.append(case)
        return unit, self._case_payload(case, amount=amount), t

    def _ev_arrears_resolved(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        case = _pop_random(self.rng, self.open_cases)
        if case is None:
            return None
        payload = self._case_payload(case, amount=case.amount_fen)
        payload["channel"] = "industry_regulator" if self.rng.random() < 0.25 else "inspection"
        payload["new_employment_form"] = case.employer.platform
        return case.unit, payload, self._after(case.at, t)

    def _ev_order_issued(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        if not self.open_cases:
            return None
        case = self.rng.choice(self.open_cases)
        kind = _pick(self.rng, (("rectification", 60), ("handling_decision", 25),
                                ("penalty_decision", 15)))
        word = {"rectification": "令", "handling_decision": "处", "penalty_decision": "罚"}[kind]
        at = self._after(case.at, t)
        doc = f"{self.abbr[case.unit]}人社监{word}〔{self._year(at)}〕{self._number(case.unit, kind, at)}号"
        payload = {"case_id": case.case_id, "employer": case.employer.obj, "kind": kind,
                   "document_no": doc}
        return case.unit, payload, at

    def _ev_case_transferred(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        case = _pop_random(self.rng, self.open_cases)
        if case is None:
            return None
        at = self._after(case.at, t)
        if self.rng.random() < POLICE_FILING_SHARE:
            case.at = at
            self.to_file.append(case)
        return case.unit, {"case_id": case.case_id, "employer": case.employer.obj}, at

    def _ev_case_filed(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        case = _pop_random(self.rng, self.to_file)
        if case is None:
            return None
        return case.unit, {"case_id": case.case_id, "employer": case.employer.obj}, \
            self._after(case.at, t)

    def _ev_employer_published(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        if not self.open_cases:
            return None
        case = self.rng.choice(self.open_cases)
        return case.unit, {"employer": case.employer.obj}, self._after(case.at, t)

    def _ev_employer_blacklisted(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        if not self.open_cases:
            return None
        case = self.rng.choice(self.open_cases)
        at = self._after(case.at, t)
        prov = _PROVINCE_CHAR.get(case.unit[:2], "")
        listing = f"{prov}人社欠薪失信〔{self._year(at)}〕{self._number(case.unit[:2], 'list', at)}号"
        return case.unit, {"employer": case.employer.obj, "listing_no": listing}, at

    def _ev_dispute_resolved(self, t: int) -> tuple[str, dict[str, Any], int]:
        rng = self.rng
        unit = self._unit()
        emp = self._employer(unit, "dispute")
        workers = max(1, min(emp.size, int(rng.paretovariate(1.8))))
        channel = "arbitration" if rng.random() < 0.35 else "mediation"
        year = self._year(t)
        n = self._number(unit, channel, t)
        case_no = f"{self.abbr[unit]}劳人仲案字〔{year}〕第{n}号" if channel == "arbitration" \
            else f"{self.abbr[unit]}劳调〔{year}〕{n}号"
        payload = {"case_no": case_no, "employer": emp.obj, "workers": workers,
                   "amount": _yuan(rng, workers * self._per_worker(emp.row)),
                   "channel": channel, "new_employment_form": emp.platform}
        return unit, payload, t

    def _ev_execution_concluded(self, t: int) -> tuple[str, dict[str, Any], int]:
        rng = self.rng
        unit = self._unit()
        emp = self._employer(unit, "arrears")
        workers = max(1, min(emp.size, int(rng.paretovariate(1.2) * 2)))
        # court code: 4 digits for a basic court, 2 for a city's, none for the high court
        local = unit[2:] if unit[4:] != "00" else unit[2:4] if unit[2:4] != "00" else ""
        court = _PROVINCE_CHAR.get(unit[:2], "苏") + local
        case_no = f"({self._year(t)}){court}执{self._number(unit, 'court', t)}号"
        payload = {"case_no": case_no, "employer": emp.obj, "workers": workers,
                   "amount": _yuan(rng, workers * self._per_worker(emp.row) * 3 // 2),
                   "new_employment_form": emp.platform and rng.random() < 0.5}
        return unit, payload, t

    def _ev_lead_received(self, t: int) -> tuple[str, dict[str, Any], int]:
        rng = self.rng
        intake = _pick(rng, (("national_platform", 45), ("hotline", 33), ("petition", 8),
                             ("centralized_reception", 14)))
        duplicate_of = rng.choice(self.received_leads) if self.received_leads \
            and rng.random() < 0.12 else None
        unit = duplicate_of.unit if duplicate_of else self._unit()
        lead_id = f"XS{unit}{self._seq():09d}"
        payload: dict[str, Any] = {"lead_id": lead_id, "intake": intake}
        if rng.random() < 0.88:
            emp = self._employer(unit, "arrears")
            payload["employer"] = emp.obj
            if emp.row == "construction" and rng.random() < 0.7:
                payload["project"] = self._project(unit)
            workers = max(1, min(emp.size, int(rng.paretovariate(1.4) * 2)))
            per_worker = self._per_worker(emp.row)
        else:
            workers, per_worker = rng.randint(1, 6), rng.randint(2000, 15000) * 100
        payload["workers_claimed"] = workers
        payload["amount_claimed"] = _yuan(rng, workers * per_worker)
        if duplicate_of is not None:
            self.merges.append((lead_id, duplicate_of.lead_id, unit, t))
        elif len(self.received_leads) < OPEN_LEADS_MAX:
            self.received_leads.append(_Lead(lead_id, unit, t))
        return unit, payload, t

    def _ev_lead_merged(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        if not self.merges:
            return None
        lead_id, into, unit, at = self.merges.popleft()
        return unit, {"lead_id": lead_id, "into_lead_id": into}, self._after(at, t)

    def _ev_lead_verified(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        lead = _pop_random(self.rng, self.received_leads)
        if lead is None:
            return None
        verdict = _pick(self.rng, (("substantiated", 55), ("unsubstantiated", 25),
                                   ("contract_payment_dispute", 20)))
        lead.at = self._after(lead.at, t)
        if len(self.verified_leads) < OPEN_LEADS_MAX:
            self.verified_leads.append(lead)
        return lead.unit, {"lead_id": lead.lead_id, "verdict": verdict}, lead.at

    def _ev_lead_closed(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        lead = _pop_random(self.rng, self.verified_leads)
        if lead is None:
            return None
        return lead.unit, {"lead_id": lead.lead_id}, self._after(lead.at, t)

    # -- dirt --

    def _exact_resend(self) -> tuple[bytes, int, _Kind] | None:
        if not self.recent:
            return None
        sent = self.rng.choice(self.recent)
        obj = _reordered(sent.obj, self.rng)
        seps = self.rng.choice(((", ", ": "), (",", ": "), (", ", ":")))
        line = json.dumps(obj, ensure_ascii=False, separators=seps).encode()
        return line, sent.recorded, _Kind("exact_resend", sent.obj["source"], sent.obj["type"])

    def _conflict(self) -> tuple[bytes, int, _Kind] | None:
        if not self.recent:
            return None
        sent = self.rng.choice(self.recent)
        if "supersedes" in sent.obj:  # a conflict is a resend without supersedes
            return None
        obj = _copy(sent.obj)
        _alter(obj, self.rng)
        return self._encode(obj), sent.recorded, _Kind("conflicting_resend", obj["source"],
                                                       obj["type"])

    def _target(self, january: bool, allowed: frozenset[str]) -> _Sent | None:
        pool: Any = self.december if january and self.december else self.fixable
        for _ in range(4):
            if not pool:
                return None
            k = self.rng.randrange(len(pool))
            sent = pool[k]
            if sent.obj["type"] in allowed and not sent.used:
                pool[k] = pool[-1]
                pool.pop()
                sent.used = True
                return sent
        return None

    def _correction(self, t: int, january: bool) -> tuple[bytes, int, _Kind] | None:
        sent = self._target(january, _CORRECTABLE)
        if sent is None:
            return None
        obj = _copy(sent.obj)
        _alter(obj, self.rng, payload_only=True)
        obj["event_id"] = self._event_id(obj["source"], obj["unit"])
        recorded = max(t, sent.recorded) + self.rng.randint(60, 3600)
        obj["recorded_at"] = _iso(recorded)
        obj["supersedes"] = sent.obj["event_id"]
        _order_envelope(obj)
        self.recent.append(_Sent(obj, sent.occurred, recorded))
        return self._encode(obj), recorded, _Kind("correction", obj["source"], obj["type"],
                                                  sent.occurred <= self.cutoff < recorded)

    def _retraction(self, t: int, january: bool) -> tuple[bytes, int, _Kind] | None:
        sent = self._target(january, _RETRACTABLE)
        if sent is None:
            return None
        occurred = min(max(t, sent.occurred + 60), self.end)
        recorded = max(occurred, sent.recorded) + self.rng.randint(60, 3600)
        obj = {"event_id": self._event_id(sent.obj["source"], sent.obj["unit"]),
               "source": sent.obj["source"], "type": "event.retracted",
               "occurred_at": _iso(occurred), "recorded_at": _iso(recorded),
               "unit": sent.obj["unit"],
               "payload": {"retracts": sent.obj["event_id"],
                           "reason": self.rng.choice(_RETRACT_REASONS)}}
        self.recent.append(_Sent(obj, occurred, recorded))
        return self._encode(obj), recorded, _Kind("retraction", obj["source"], obj["type"],
                                                  occurred <= self.cutoff < recorded)

    def _bad(self, t: int) -> tuple[bytes, int, _Kind]:
        rng = self.rng
        if not self.bad_order:  # cycle through every kind, in a seeded order
            self.bad_order = list(BAD_KINDS)
            rng.shuffle(self.bad_order)
        kind = self.bad_order.pop()
        types, _ = BAD_KINDS[kind]
        type_ = rng.choice(types or _SELF_CONTAINED)
        source = {"dispute.resolved": "mediation", "execution.concluded": "court"}.get(
            type_, "inspection")
        # A bad line opens no case: drop the one its base event may have added.
        open_cases = len(self.open_cases)
        obj, occurred = self._event(source, type_, t)
        del self.open_cases[open_cases:]
        recorded = occurred + self._delay(type_)
        obj["recorded_at"] = _iso(recorded)
        _order_envelope(obj)
        return _spoil(kind, obj, rng), recorded, _Kind("bad", bad=kind)

    def reason_of(self, line: bytes) -> str:
        try:
            parse_event(line, self.registry)
        except ValidationError as err:
            return err.reason
        return "accepted (generator bug)"

    # -- small helpers --

    def _encode(self, obj: dict[str, Any]) -> bytes:
        return self._dumps(obj).encode()

    def _remember(self, obj: dict[str, Any], occurred: int, recorded: int) -> None:
        sent = _Sent(obj, occurred, recorded)
        self.recent.append(sent)
        if obj["type"] in _RETRACTABLE:
            self.fixable.append(sent)
            # late-December events: a reservoir sample for the January corrections
            if self.cutoff - 10 * 86400 < occurred <= self.cutoff:
                self.december_seen += 1
                if len(self.december) < DECEMBER_MAX:
                    self.december.append(sent)
                else:
                    k = self.rng.randrange(self.december_seen)
                    if k < DECEMBER_MAX:
                        self.december[k] = sent

    def _seq(self) -> int:
        self.seq += 1
        return self.seq

    def _event_id(self, source: str, unit: str) -> str:
        return f"{source[:4]}-{unit}-s{self.options.seed}-{self._seq():010d}"

    def _case_id(self, unit: str, t: int) -> str:
        return f"{unit}-JC-{self._year(t)}-{self._seq():08d}"

    def _number(self, unit: str, kind: str, t: int) -> int:
        key = (unit, kind, self._year(t))
        self.numbers[key] += 1
        return self.numbers[key]

    def _year(self, t: int) -> int:
        return dt.datetime.fromtimestamp(t, CST).year

    def _after(self, earlier: int, t: int) -> int:
        """A time at or after ``t`` and at least a minute after ``earlier``, in the window."""
        return min(max(t, earlier + 60), self.end)

    def _delay(self, type_: str) -> int:
        rng = self.rng
        if type_.startswith("lead."):
            return rng.randint(5, 900)
        if type_ == "execution.concluded":
            return rng.randint(3600, 3 * 86400)
        if rng.random() < 0.1:  # entered the next day
            return rng.randint(12 * 3600, 40 * 3600)
        return int(min(rng.expovariate(1 / 7200), 86400)) + 30

    def _unit(self) -> str:
        return self.unit_codes[bisect.bisect_left(self.unit_cum, self.rng.random())]

    def _per_worker(self, row: str) -> int:
        low, high = {"construction": (6000, 32000), "manufacturing": (3000, 14000),
                     "services": (2500, 10000), "other": (2000, 9000)}[row]
        return self.rng.randint(low, high) * 100 + self.rng.choice((0, 0, 0, 50, 0, 37))

    def _employer(self, unit: str, purpose: str) -> _Employer:
        rng = self.rng
        row = ROWS[bisect.bisect_left(_cumulative(ROW_WEIGHTS[purpose]), rng.random())]
        pool = self.employers.setdefault((unit, row), [])
        if pool and (len(pool) >= self.employer_cap or rng.random() > 0.3):
            if len(pool) < self.employer_cap or rng.random() > 0.02:
                return rng.choice(pool)
            pool[rng.randrange(len(pool))] = emp = self._new_employer(unit, row)
            return emp
        emp = self._new_employer(unit, row)
        pool.append(emp)
        return emp

    def _new_employer(self, unit: str, row: str) -> _Employer:
        rng = self.rng
        division = self.division[unit] if rng.random() > 0.12 else rng.choice(self.elsewhere)
        platform = row == "services" and rng.random() < 0.25
        industry, words = rng.choice(_PLATFORM_INDUSTRIES if platform else INDUSTRIES[row])
        fit = {"12": "services", "52": "services", "93": "other"}
        for _ in range(6):
            uscc = make_uscc(rng, division)
            if fit.get(uscc[:2], row) == row and not (platform and uscc[:2] != "91"):
                break
        else:
            uscc = "91" + uscc[2:17]
            uscc += uscc_check_char(uscc)
        name = self._name(uscc, division, row, rng.choice(words))
        size = {"construction": int(rng.paretovariate(1.1) * 25),
                "manufacturing": int(rng.paretovariate(1.2) * 40),
                "services": int(rng.paretovariate(1.3) * 15),
                "other": int(rng.paretovariate(1.5) * 10)}[row]
        if uscc[:2] == "92":
            size = min(size, rng.randint(1, 8))
        share = {"construction": 0.88, "manufacturing": 0.5, "services": 0.3,
                 "other": 0.6}[row] * rng.uniform(0.7, 1.1)
        return _Employer({"id": uscc, "name": name, "industry": industry}, row,
                         max(1, min(size, 20000)), min(share, 1.0), platform)

    def _name(self, uscc: str, division: str, row: str, word: str) -> str:
        rng = self.rng
        brand = rng.choice(_BRAND1) + rng.choice(_BRAND2)
        place = self.registry.unit(division) if division in self.registry else None
        city_code = division[:4] + "00"
        city = self.registry.unit(city_code).name if city_code in self.registry else "常州市"
        county = place.name if place and place.code != city_code else ""
        province = self.registry.unit(division[:2] + "0000").name.removesuffix("省") \
            if division[:2] + "0000" in self.registry else "江苏"
        kind = uscc[:2]
        if kind == "92":
            return f"{county or city}{brand}{rng.choice(_SHOPS[row])}"
        if kind == "93":
            return f"{county or city}{brand}农业专业合作社"
        if kind == "12":
            return f"{city}{county}{rng.choice(('第一', '第二', '实验', '中心'))}" \
                   f"{rng.choice(('人民医院', '中学', '小学', '社区卫生服务中心'))}"
        if kind == "52":
            return f"{city}{county}{brand}{rng.choice(('职业培训学校', '养老服务中心', '幼儿园'))}"
        local = county if county.endswith("市") else city + county  # 溧阳市, not 常州市溧阳市
        head = _pick(rng, ((city.removesuffix("市"), 45), (local, 25),
                           (province, 20), ("", 10)))
        return f"{head}{brand}{word}有限公司"

    def _project(self, unit: str) -> dict[str, Any]:
        rng = self.rng
        pool = self.projects.setdefault(unit, [])
        if pool and (len(pool) >= self.project_cap or rng.random() > 0.3):
            return rng.choice(pool)
        pattern, p_gov, p_soe = rng.choice(_PROJECT_KINDS)
        name = pattern.format(p=rng.choice(_PLACES), n=rng.randint(1, 6))
        unit_name = self.registry.unit(unit).name
        project = {"id": f"P{unit}{self._year(self.now)}{self._seq():07d}",
                   "name": f"{unit_name}{name}",
                   "government_investment": rng.random() < p_gov, "soe": rng.random() < p_soe}
        pool.append(project)
        return project

    def _case_payload(self, case: _Case, *, amount: int) -> dict[str, Any]:
        payload: dict[str, Any] = {"case_id": case.case_id, "employer": case.employer.obj}
        if case.project is not None:
            payload["project"] = case.project
        payload["workers"] = case.workers
        payload["amount"] = _fen_to_yuan(amount)
        return payload


# --- pure helpers ---------------------------------------------------------------------------

def _cumulative(weights: tuple[float, ...] | list[float]) -> list[float]:
    total = sum(weights)
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


def _pick(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    r = rng.random() * sum(w for _, w in choices)
    for value, weight in choices:
        r -= weight
        if r < 0:
            return value
    return choices[-1][0]


def _pop_random(rng: random.Random, pool: list[Any]) -> Any:
    if not pool:
        return None
    k = rng.randrange(len(pool))
    pool[k], pool[-1] = pool[-1], pool[k]
    return pool.pop()


def _fen_to_yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _yuan(rng: random.Random, fen: int) -> str:
    """Amounts as sources write them: mostly "12500.00", some "12500" or "12500.5"."""
    text = _fen_to_yuan(fen)
    r = rng.random()
    if r < 0.15 and text.endswith(".00"):
        return text[:-3]
    if r < 0.2 and text.endswith("0") and not text.endswith(".00"):
        return text[:-1]
    return text


def _order_envelope(obj: dict[str, Any]) -> None:
    """Put the envelope keys in the SPEC order (payload last), in place."""
    payload = obj.pop("payload")
    for key in ("event_id", "source", "type", "occurred_at", "recorded_at", "unit",
                "supersedes"):
        if key in obj:
            obj[key] = obj.pop(key)
    obj["payload"] = payload


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    out["payload"] = dict(obj["payload"])
    return out


def _reordered(obj: Any, rng: random.Random) -> Any:
    """The same JSON value with keys in another order (recursively)."""
    if isinstance(obj, dict):
        items = list(obj.items())
        rng.shuffle(items)
        return {k: _reordered(v, rng) for k, v in items}
    return obj


def _alter(obj: dict[str, Any], rng: random.Random, *, payload_only: bool = False) -> None:
    """Change the content of an event copy (a corrected figure, or a conflicting one)."""
    payload = obj["payload"]
    if "migrant_workers" in payload:
        payload["workers"] += rng.randint(1, 5)
        payload["migrant_workers"] = min(payload["workers"],
                                         payload["migrant_workers"] + rng.randint(0, 2))
    elif "amount" in payload:
        fen = _amount_fen(payload["amount"])
        payload["amount"] = _fen_to_yuan(max(100, fen + rng.choice((-1, 1)) * rng.randint(
            100, max(101, fen // 5))))
    elif "amount_claimed" in payload:
        payload["workers_claimed"] += 1
    elif "reason" in payload:
        payload["reason"] += "（补充说明）"
    elif not payload_only:
        stamp = dt.datetime.fromisoformat(obj["occurred_at"]) + dt.timedelta(minutes=17)
        obj["occurred_at"] = stamp.isoformat()
    else:
        payload["employer"] = dict(payload["employer"], name=payload["employer"]["name"] + "（更正）")


def _amount_fen(text: str) -> int:
    whole, _, dec = text.partition(".")
    return int(whole) * 100 + int(dec.ljust(2, "0") or 0)


def _spoil(kind: str, obj: dict[str, Any], rng: random.Random) -> bytes:
    """One bad record of ``kind`` made from a clean event object."""
    obj = _copy(obj)
    payload = obj["payload"]
    employer = dict(payload["employer"])
    payload["employer"] = employer
    compact = json.JSONEncoder(ensure_ascii=False, separators=_COMPACT).encode
    if kind == "bad_json":
        text = compact(obj)
        return text[: rng.randint(len(text) // 3, len(text) - 2)].encode()
    if kind == "bad_utf8":
        return compact(obj).encode("gb18030")
    if kind == "not_an_object":
        return compact([obj]).encode()
    if kind == "duplicate_key":
        text = compact(obj)
        return (text[:-1] + f',"unit":"{obj["unit"]}"}}').encode()
    if kind == "missing_field":
        del obj[rng.choice(("event_id", "unit", "occurred_at", "payload"))]
    elif kind == "unknown_field":
        obj["remark"] = "补录"
    elif kind == "unknown_source":
        obj["source"] = rng.choice(("social_security", "labour", "12345"))
    elif kind == "unknown_type":
        obj["type"] = rng.choice(("employer.audited", "case.closed", "arrears.paid"))
    elif kind == "type_of_other_source":
        others = [s for s in TYPES if s != obj["source"]]
        other = rng.choice(others)
        obj["type"] = rng.choice([t for t in TYPES[other] if t != "event.retracted"])
    elif kind == "time_without_offset":
        obj["occurred_at"] = obj["occurred_at"][:19]
    elif kind == "time_not_iso":
        stamp = dt.datetime.fromisoformat(obj["occurred_at"])
        obj["occurred_at"] = stamp.strftime("%Y/%m/%d %H:%M")
    elif kind == "unknown_unit":
        obj["unit"] = obj["unit"][:4] + "99"
    elif kind == "supersedes_itself":
        obj["supersedes"] = obj["event_id"]
    elif kind == "uscc_check_char":
        code = employer["id"]
        employer["id"] = code[:17] + rng.choice(CHARSET.replace(code[17], ""))
    elif kind == "uscc_org_check":
        code = employer["id"]
        wrong = rng.choice([c for c in "0123456789" if c != org_check_digit(code[8:16])])
        first17 = code[:16] + wrong
        employer["id"] = first17 + uscc_check_char(first17)
    elif kind == "uscc_length":
        employer["id"] = employer["id"][:17]
    elif kind == "industry_wrong_section":
        digits = employer["industry"].lstrip("ABCDEFGHIJKLMNOPQRST")
        employer["industry"] = ("C" if int(digits[:2]) not in range(13, 44) else "E") + digits
    elif kind == "industry_unknown_division":
        employer["industry"] = rng.choice(("98", "99", "00")) + employer["industry"].lstrip(
            "ABCDEFGHIJKLMNOPQRST")[2:]
    elif kind == "amount_negative":
        payload["amount"] = "-" + payload["amount"]
    elif kind == "amount_three_decimals":
        payload["amount"] = payload["amount"].split(".")[0] + "." + str(rng.randint(100, 999))
    elif kind == "amount_not_string":
        payload["amount"] = float(payload["amount"])
    elif kind == "workers_negative":
        payload["workers"] = -payload["workers"]
    elif kind == "migrant_exceeds_workers":
        payload["migrant_workers"] = payload["workers"] + rng.randint(1, 20)
    elif kind == "bad_case_no":
        payload["case_no"] = payload["case_no"].replace("执", "执字").rstrip("号")
    elif kind == "unknown_channel":
        payload["channel"] = rng.choice(("bank", "court", "negotiation"))
    elif kind == "flag_not_boolean":
        payload["new_employment_form"] = rng.choice(("yes", "否", 0))
    elif kind == "unknown_method":
        payload["method"] = rng.choice(("phone", "spot_check"))
    else:  # pragma: no cover - BAD_KINDS and this function are edited together
        raise AssertionError(f"no spoiler for bad kind {kind}")
    return compact(obj).encode()
