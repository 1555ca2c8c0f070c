"""Vocabulary for realistic names: industries, brands, places, projects, and company names."""

from __future__ import annotations

import random

from contracts.registry import Registry
from pipeline.generate.util import pick

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
        ("4710", ("建设工程", "建工集团", "建筑劳务")),
        ("E4710", ("建设工程", "建筑劳务")),
        ("4790", ("建设工程",)),
        ("4811", ("路桥工程",)),
        ("4813", ("市政工程", "路桥工程")),
        ("482", ("水利工程",)),
        ("4851", ("土石方工程",)),
        ("E48", ("市政工程",)),
        ("487", ("电力工程",)),
        ("491", ("机电安装工程", "建筑安装工程")),
        ("4920", ("管道安装工程",)),
        ("5011", ("装饰工程",)),
        ("5012", ("装饰工程", "家装")),
        ("5013", ("幕墙工程",)),
        ("502", ("拆除工程",)),
        ("50", ("建筑劳务",)),
    ),
    "manufacturing": (
        ("1713", ("纺织",)),
        ("1810", ("服饰",)),
        ("2110", ("家具",)),
        ("2927", ("塑业",)),
        ("3011", ("建材",)),
        ("3311", ("钢结构",)),
        ("3360", ("五金制品",)),
        ("3442", ("精密机械", "机械制造")),
        ("C34", ("机械制造",)),
        ("3484", ("机械制造",)),
        ("3670", ("汽车零部件",)),
        ("C3670", ("汽车零部件",)),
        ("3824", ("电气设备",)),
        ("3841", ("电池科技",)),
        ("3971", ("电子科技",)),
        ("4011", ("仪表",)),
        ("2651", ("新材料",)),
    ),
    "services": (
        ("4310", ("金属制品修理",)),
        ("0511", ("农业技术服务",)),
        ("1120", ("油田技术服务",)),
        ("5121", ("商贸",)),
        ("5211", ("商贸", "超市")),
        ("5430", ("物流", "运输")),
        ("5436", ("供应链管理",)),
        ("6020", ("快递服务",)),
        ("6110", ("酒店管理",)),
        ("6210", ("餐饮管理",)),
        ("6513", ("软件",)),
        ("7020", ("物业管理",)),
        ("7262", ("人力资源",)),
        ("7281", ("保安服务",)),
        ("8010", ("家政服务",)),
        ("8111", ("汽车服务",)),
    ),
    "other": (
        ("0111", ("农业发展",)),
        ("0131", ("生态农业",)),
        ("0412", ("水产养殖",)),
        ("1011", ("矿业",)),
        ("4411", ("热电",)),
        ("4415", ("新能源",)),
        ("4430", ("热力",)),
        ("4610", ("水务",)),
        ("4620", ("水务",)),
    ),
}
#: Platform employers (new forms of employment: riders, drivers).
PLATFORM_INDUSTRIES = (
    ("5430", ("出行服务",)),
    ("6020", ("即时配送", "同城配送")),
    ("6420", ("网络科技",)),
    ("I6420", ("信息技术", "网络科技")),
)
_BRAND1 = "宏恒华中金瑞鼎盛永新东润嘉福德兴安泰龙腾晨汇博远天正裕启明"
_BRAND2 = "达信建天诚丰盛泰源祥和利通昌发业阳辉远邦锦程宇峰华晟"
_SHOPS = {
    "construction": ("装修队", "装饰工作室", "水电安装部"),
    "manufacturing": ("五金加工厂", "服装加工厂", "模具加工部"),
    "services": ("餐馆", "汽修店", "便利店", "快递服务部", "理发店"),
    "other": ("家庭农场", "养殖场", "苗圃"),
}
PLACES = (
    "湖塘",
    "牛塘",
    "湟里",
    "雪堰",
    "横林",
    "礼嘉",
    "青龙",
    "茶山",
    "红梅",
    "新闸",
    "邹区",
    "西夏墅",
    "春江",
    "孟河",
    "薛家",
    "罗溪",
    "直溪",
    "尧塘",
    "埭头",
    "南渡",
    "长江路",
    "龙城大道",
    "延政路",
    "通江大道",
    "常澄路",
    "滨江",
    "城东",
    "高新",
)
#: Project kinds: (name pattern, P(government investment), P(state-owned enterprise)).
PROJECT_KINDS = (
    ("{p}安置房{n}期工程", 0.85, 0.35),
    ("{p}人才公寓项目", 0.6, 0.5),
    ("{p}道路改造工程", 0.95, 0.3),
    ("{p}污水管网工程", 0.9, 0.4),
    ("{p}小学新建工程", 0.95, 0.2),
    ("{p}医院门诊楼工程", 0.9, 0.25),
    ("城市轨道交通{n}号线{p}站土建施工项目", 0.8, 0.9),
    ("{p}商住小区{n}期工程", 0.05, 0.2),
    ("{p}产业园标准厂房项目", 0.3, 0.4),
    ("{p}物流园仓储中心项目", 0.05, 0.15),
    ("{p}河道综合整治工程", 0.95, 0.35),
    ("{p}变电站新建工程", 0.2, 0.95),
)
#: A province's one-character abbreviation (by the first two digits of its code), used in
#: document and case numbers.
PROVINCE_CHAR = {
    "11": "京",
    "12": "津",
    "13": "冀",
    "14": "晋",
    "15": "蒙",
    "21": "辽",
    "22": "吉",
    "23": "黑",
    "31": "沪",
    "32": "苏",
    "33": "浙",
    "34": "皖",
    "35": "闽",
    "36": "赣",
    "37": "鲁",
    "41": "豫",
    "42": "鄂",
    "43": "湘",
    "44": "粤",
    "45": "桂",
    "46": "琼",
    "50": "渝",
    "51": "川",
    "52": "贵",
    "53": "云",
    "54": "藏",
    "61": "陕",
    "62": "甘",
    "63": "青",
    "64": "宁",
    "65": "新",
}
#: Why a source retracts an event it sent.
RETRACT_REASONS = (
    "重复录入",
    "录入单位错误",
    "经复核不属于欠薪案件",
    "系统测试数据",
    "已并案处理",
)


def company_name(
    rng: random.Random, registry: Registry, uscc: str, division: str, row: str, word: str
) -> str:
    """A plausible name for an employer of this kind (USCC prefix), place and report row."""
    brand = rng.choice(_BRAND1) + rng.choice(_BRAND2)
    place = registry.unit(division) if division in registry else None
    city_code = division[:4] + "00"
    city = registry.unit(city_code).name if city_code in registry else "常州市"
    county = place.name if place and place.code != city_code else ""
    province = (
        registry.unit(division[:2] + "0000").name.removesuffix("省")
        if division[:2] + "0000" in registry
        else "江苏"
    )
    kind = uscc[:2]
    if kind == "92":
        return f"{county or city}{brand}{rng.choice(_SHOPS[row])}"
    if kind == "93":
        return f"{county or city}{brand}农业专业合作社"
    if kind == "12":
        return (
            f"{city}{county}{rng.choice(('第一', '第二', '实验', '中心'))}"
            f"{rng.choice(('人民医院', '中学', '小学', '社区卫生服务中心'))}"
        )
    if kind == "52":
        return f"{city}{county}{brand}{rng.choice(('职业培训学校', '养老服务中心', '幼儿园'))}"
    local = county if county.endswith("市") else city + county  # 溧阳市, not 常州市溧阳市
    head = pick(rng, ((city.removesuffix("市"), 45), (local, 25), (province, 20), ("", 10)))
    return f"{head}{brand}{word}有限公司"
