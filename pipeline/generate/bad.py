"""Bad records: the kinds the contracts must reject, and how to spoil a clean event into one."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from contracts.events import TYPES
from contracts.uscc import CHARSET
from pipeline.generate.util import compact_json, copy_event

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
    "uscc_division": (None, "uscc.division"),
    "uscc_length": (None, "uscc.length"),
    "industry_wrong_section": (None, "industry.section"),
    "industry_unknown_division": (None, "industry.division"),
    "amount_negative": (
        ("arrears.verified", "dispute.resolved", "execution.concluded"),
        "amount.negative",
    ),
    "amount_three_decimals": (
        ("arrears.verified", "dispute.resolved", "execution.concluded"),
        "amount.decimals",
    ),
    "amount_not_string": (
        ("arrears.verified", "dispute.resolved", "execution.concluded"),
        "amount.type",
    ),
    "workers_negative": (
        ("employer.inspected", "dispute.resolved", "execution.concluded"),
        "workers.negative",
    ),
    "migrant_exceeds_workers": (("employer.inspected",), "migrant_workers.exceeds_workers"),
    "bad_case_no": (("execution.concluded",), "case_no.format"),
    "unknown_channel": (("dispute.resolved",), "channel.unknown"),
    "flag_not_boolean": (("dispute.resolved", "execution.concluded"), "new_employment_form.type"),
    "unknown_method": (("employer.inspected",), "method.unknown"),
}


def spoil(kind: str, obj: dict[str, Any], rng: random.Random) -> bytes:
    """One bad record of ``kind`` made from a clean event object."""
    obj = copy_event(obj)
    payload = obj["payload"]
    employer = dict(payload["employer"])
    payload["employer"] = employer
    if kind == "bad_json":
        text = compact_json(obj)
        return text[: rng.randint(len(text) // 3, len(text) - 2)].encode()
    if kind == "bad_utf8":
        return compact_json(obj).encode("gb18030")
    if kind == "not_an_object":
        return compact_json([obj]).encode()
    if kind == "duplicate_key":
        text = compact_json(obj)
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
    elif kind == "uscc_division":
        # A letter in the division (characters 3-8). It replaced the kind `uscc_org_check`
        # when a wrong embedded organisation digit became a warning (issue 14), drawing as
        # it did (one choice among nine), so the lines around it are unchanged.
        code = employer["id"]
        employer["id"] = code[:2] + rng.choice("ABCDEFGHJ") + code[3:]
    elif kind == "uscc_length":
        employer["id"] = employer["id"][:17]
    elif kind == "industry_wrong_section":
        digits = employer["industry"].lstrip("ABCDEFGHIJKLMNOPQRST")
        employer["industry"] = ("C" if int(digits[:2]) not in range(13, 44) else "E") + digits
    elif kind == "industry_unknown_division":
        employer["industry"] = (
            rng.choice(("98", "99", "00")) + employer["industry"].lstrip("ABCDEFGHIJKLMNOPQRST")[2:]
        )
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
    return compact_json(obj).encode()
