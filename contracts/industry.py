"""GB/T 4754-2017 industry codes and the report row (SPEC 4.1) of each division."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from contracts.errors import ValidationError

__all__ = [
    "SECTIONS",
    "DIVISIONS",
    "ROW_KEYS",
    "ROW_DIVISIONS",
    "Industry",
    "section_of",
    "parse_industry",
    "row_of_division",
]

#: Section letter -> (first division, last division, name).
SECTIONS: MappingProxyType[str, tuple[int, int, str]] = MappingProxyType(
    {
        "A": (1, 5, "农、林、牧、渔业"),
        "B": (6, 12, "采矿业"),
        "C": (13, 43, "制造业"),
        "D": (44, 46, "电力、热力、燃气及水生产和供应业"),
        "E": (47, 50, "建筑业"),
        "F": (51, 52, "批发和零售业"),
        "G": (53, 60, "交通运输、仓储和邮政业"),
        "H": (61, 62, "住宿和餐饮业"),
        "I": (63, 65, "信息传输、软件和信息技术服务业"),
        "J": (66, 69, "金融业"),
        "K": (70, 70, "房地产业"),
        "L": (71, 72, "租赁和商务服务业"),
        "M": (73, 75, "科学研究和技术服务业"),
        "N": (76, 79, "水利、环境和公共设施管理业"),
        "O": (80, 82, "居民服务、修理和其他服务业"),
        "P": (83, 83, "教育"),
        "Q": (84, 85, "卫生和社会工作"),
        "R": (86, 90, "文化、体育和娱乐业"),
        "S": (91, 96, "公共管理、社会保障和社会组织"),
        "T": (97, 97, "国际组织"),
    }
)

#: Division number -> name (门类 -> 大类 of GB/T 4754-2017; 97 divisions, 01-97).
DIVISIONS: MappingProxyType[int, str] = MappingProxyType(
    {
        1: "农业",
        2: "林业",
        3: "畜牧业",
        4: "渔业",
        5: "农、林、牧、渔专业及辅助性活动",
        6: "煤炭开采和洗选业",
        7: "石油和天然气开采业",
        8: "黑色金属矿采选业",
        9: "有色金属矿采选业",
        10: "非金属矿采选业",
        11: "开采专业及辅助性活动",
        12: "其他采矿业",
        13: "农副食品加工业",
        14: "食品制造业",
        15: "酒、饮料和精制茶制造业",
        16: "烟草制品业",
        17: "纺织业",
        18: "纺织服装、服饰业",
        19: "皮革、毛皮、羽毛及其制品和制鞋业",
        20: "木材加工和木、竹、藤、棕、草制品业",
        21: "家具制造业",
        22: "造纸和纸制品业",
        23: "印刷和记录媒介复制业",
        24: "文教、工美、体育和娱乐用品制造业",
        25: "石油、煤炭及其他燃料加工业",
        26: "化学原料和化学制品制造业",
        27: "医药制造业",
        28: "化学纤维制造业",
        29: "橡胶和塑料制品业",
        30: "非金属矿物制品业",
        31: "黑色金属冶炼和压延加工业",
        32: "有色金属冶炼和压延加工业",
        33: "金属制品业",
        34: "通用设备制造业",
        35: "专用设备制造业",
        36: "汽车制造业",
        37: "铁路、船舶、航空航天和其他运输设备制造业",
        38: "电气机械和器材制造业",
        39: "计算机、通信和其他电子设备制造业",
        40: "仪器仪表制造业",
        41: "其他制造业",
        42: "废弃资源综合利用业",
        43: "金属制品、机械和设备修理业",
        44: "电力、热力生产和供应业",
        45: "燃气生产和供应业",
        46: "水的生产和供应业",
        47: "房屋建筑业",
        48: "土木工程建筑业",
        49: "建筑安装业",
        50: "建筑装饰、装修和其他建筑业",
        51: "批发业",
        52: "零售业",
        53: "铁路运输业",
        54: "道路运输业",
        55: "水上运输业",
        56: "航空运输业",
        57: "管道运输业",
        58: "多式联运和运输代理业",
        59: "装卸搬运和仓储业",
        60: "邮政业",
        61: "住宿业",
        62: "餐饮业",
        63: "电信、广播电视和卫星传输服务",
        64: "互联网和相关服务",
        65: "软件和信息技术服务业",
        66: "货币金融服务",
        67: "资本市场服务",
        68: "保险业",
        69: "其他金融业",
        70: "房地产业",
        71: "租赁业",
        72: "商务服务业",
        73: "研究和试验发展",
        74: "专业技术服务业",
        75: "科技推广和应用服务业",
        76: "水利管理业",
        77: "生态保护和环境治理业",
        78: "公共设施管理业",
        79: "土地管理业",
        80: "居民服务业",
        81: "机动车、电子产品和日用产品修理业",
        82: "其他服务业",
        83: "教育",
        84: "卫生",
        85: "社会工作",
        86: "新闻和出版业",
        87: "广播、电视、电影和录音制作业",
        88: "文化艺术业",
        89: "体育",
        90: "娱乐业",
        91: "中国共产党机关",
        92: "国家机构",
        93: "人民政协、民主党派",
        94: "社会保障",
        95: "群众团体、社会团体和其他成员组织",
        96: "基层群众自治组织及其他组织",
        97: "国际组织",
    }
)

#: Report rows of SPEC 4.1 by industry, in form order. Services follow the
#: 三次产业划分规定 (2018): 51-97 plus 05, 11 and 43. An event naming a
#: construction project goes to "construction" whatever its employer's division.
ROW_KEYS = ("construction", "manufacturing", "services", "other")
ROW_DIVISIONS: MappingProxyType[str, frozenset[int]] = MappingProxyType(
    {
        "construction": frozenset(range(47, 51)),
        "manufacturing": frozenset(range(13, 43)),
        "services": frozenset([*range(51, 98), 5, 11, 43]),
        "other": frozenset([*range(1, 5), *range(6, 11), 12, *range(44, 47)]),
    }
)


def _row_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for row in ROW_KEYS:
        for division in ROW_DIVISIONS[row]:
            if division in table:
                raise AssertionError(f"division {division} is in rows {table[division]} and {row}")
            table[division] = row
    if set(table) != set(DIVISIONS):
        raise AssertionError(f"rows do not cover divisions {sorted(set(DIVISIONS) ^ set(table))}")
    return table


_ROW_OF = _row_table()
_SECTION_OF = {d: s for s, (first, last, _) in SECTIONS.items() for d in range(first, last + 1)}
_CODE = re.compile(r"([A-Z]?)([0-9]{2,4})")
#: Codes already parsed, to their Industry (immutable, so one is shared): a few hundred
#: codes recur in every stream, and a hit costs ~0.1 µs against 1.2 µs for the regex and
#: the dataclass. Emptied when full.
_PARSED: dict[str, Industry] = {}
_PARSED_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Industry:
    """A validated GB/T 4754-2017 code: `code` as given without the section letter."""

    code: str
    section: str
    division: int

    @property
    def row(self) -> str:
        """The report row of this industry's division."""
        return _ROW_OF[self.division]


def section_of(division: int) -> str:
    """The section letter of a division: section_of(47) == "E"."""
    return _SECTION_OF[division]


def parse_industry(code: object, *, field: str = "industry") -> Industry:
    """Parse a division, group or class code, optionally prefixed by its section letter.

    >>> parse_industry("E4710")
    Industry(code='4710', section='E', division=47)
    """
    if not isinstance(code, str):
        raise ValidationError(
            field,
            code,
            "an industry code must be a JSON string",
            reason="industry.type",
            hint='write e.g. "4710" or "E4710"',
        )
    known = _PARSED.get(code)
    if known is not None:
        return known
    match = _CODE.fullmatch(code)
    if match is None:
        raise ValidationError(
            field,
            code,
            "expected a GB/T 4754-2017 code: 2-4 digits, optionally after the section letter",
            reason="industry.format",
            hint='e.g. "47", "471", "E4710"',
        )
    letter, digits = match.groups()
    division = int(digits[:2])
    if division not in DIVISIONS:
        raise ValidationError(
            field,
            code,
            f"division {digits[:2]} does not exist in GB/T 4754-2017 (divisions are 01-97)",
            reason="industry.division",
        )
    section = _SECTION_OF[division]
    if letter and letter != section:
        raise ValidationError(
            field,
            code,
            f"division {digits[:2]} ({DIVISIONS[division]}) is in section {section}, not {letter}",
            reason="industry.section",
            hint=f"write {section}{digits} or just {digits}",
        )
    industry = Industry(code=digits, section=section, division=division)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[code] = industry
    return industry


def row_of_division(division: int) -> str:
    """The report row key of a division: row_of_division(43) == "services"."""
    try:
        return _ROW_OF[division]
    except KeyError:
        raise ValidationError(
            "division",
            division,
            "not a GB/T 4754-2017 division (01-97)",
            reason="industry.division",
        ) from None
