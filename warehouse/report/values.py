"""Exact values -> the numbers the form shows: half up (四舍五入) to each measure's places."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

from contracts.cells import MONEY, PERSONS, Measure
from warehouse.errors import WarehouseError

__all__ = ["Precision", "DEFAULT_PRECISION", "parse_precision", "rounded", "places_of", "shown"]

Precision = Mapping[str, int]  # measure unit (万人, 万元, ...) -> decimal places

#: SPEC 4.4: 万人 to 4 places, 万元 to 2; the rest are whole numbers.
DEFAULT_PRECISION: Precision = MappingProxyType(
    {PERSONS.unit: PERSONS.places, MONEY.unit: MONEY.places}
)
_NAMES = {
    "persons": PERSONS.unit,
    "money": MONEY.unit,
    PERSONS.unit: PERSONS.unit,
    MONEY.unit: MONEY.unit,
}


def parse_precision(text: str | None) -> Precision:
    """`persons=4,money=2` (or 万人=4,万元=2) over the defaults.

    >>> dict(parse_precision("money=0"))
    {'万人': 4, '万元': 0}
    """
    out = dict(DEFAULT_PRECISION)
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, places = part.partition("=")
        key = _NAMES.get(name.strip())
        if key is None or not places.strip().isdigit() or int(places) > 10:
            raise WarehouseError(
                f"--precision item {part!r} is not persons=N or money=N (N from 0 to 10), "
                "e.g. persons=4,money=2"
            )
        out[key] = int(places)
    return MappingProxyType(out)


def places_of(measure: Measure, precision: Precision = DEFAULT_PRECISION) -> int:
    return precision.get(measure.unit, measure.places)


def rounded(value: int, measure: Measure, precision: Precision = DEFAULT_PRECISION) -> Decimal:
    """`value` (persons, fen, count) in the form's unit, rounded half up.

    >>> rounded(1, PERSONS)   # 1 person = 0.0001 万人
    Decimal('0.0001')
    >>> rounded(5, PERSONS, {"万人": 3})  # 0.0005 -> 0.001 (half up)
    Decimal('0.001')
    """
    places = places_of(measure, precision)
    exact = Decimal(int(value)) / Decimal(measure.divisor)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def shown(value: int, measure: Measure, precision: Precision = DEFAULT_PRECISION) -> str:
    """The rounded value as text with all its places ("0.0500")."""
    return f"{rounded(value, measure, precision):f}"
