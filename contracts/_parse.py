"""Field parsers shared by the event models: strict JSON types, exact money, aware times."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from contracts.clock import CST
from contracts.errors import MISSING, ValidationError

MAX_ID = 128
MAX_TEXT = 512
#: The most people one event may count: far above any employer, far below int64 sums.
MAX_WORKERS = 10_000_000
#: The most yuan one event may carry (10 billion): sums of millions stay inside int64 fen.
MAX_YUAN = 10_000_000_000
_YUAN_DIGITS = len(str(MAX_YUAN))
_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")  # ASCII digits: \d takes "１２３" too


def kind_of(field: str) -> str:
    """The reason prefix of a field: its path without the leading "payload."."""
    return field.removeprefix("payload.") or "event"


class Keys:
    """The keys a JSON object must and may have, with the sets `obj` checks them against.

    Built once per object shape (not per record), so the valid case is two subset tests.
    """

    __slots__ = ("required", "optional", "required_set", "allowed")

    def __init__(self, required: Collection[str], optional: Collection[str] = ()) -> None:
        self.required = tuple(required)
        self.optional = tuple(optional)
        self.required_set = frozenset(self.required)
        self.allowed = self.required_set | frozenset(self.optional)


def obj(value: Any, field: str, keys: Keys) -> Mapping[str, Any]:
    """A JSON object with every `keys.required` key and nothing beyond `keys.optional`."""
    if not isinstance(value, dict):
        raise ValidationError(
            field,
            value,
            f"must be a JSON object, got {_json_type(value)}",
            reason=f"{kind_of(field)}.not_object",
        )
    present = value.keys()
    if present >= keys.required_set and present <= keys.allowed:
        return value
    for key in keys.required:
        if key not in value:
            raise ValidationError(
                _join(field, key),
                MISSING,
                "required field is missing",
                reason="field.missing",
                hint=f"add {key!r}",
            )
    unknown = [key for key in value if key not in keys.allowed]
    if unknown:
        names = ", ".join([*keys.required, *keys.optional])
        raise ValidationError(
            _join(field, unknown[0]),
            MISSING,
            "unknown field; the contract is strict",
            reason="field.unknown",
            hint=f"allowed fields here: {names}",
        )
    return value


def text(value: Any, field: str, max_len: int = MAX_TEXT) -> str:
    """A non-blank JSON string of at most `max_len` characters."""
    if not isinstance(value, str):
        raise ValidationError(
            field,
            value,
            f"must be a JSON string, got {_json_type(value)}",
            reason=f"{kind_of(field)}.type",
        )
    if not value.strip():
        raise ValidationError(field, value, "must not be empty", reason=f"{kind_of(field)}.empty")
    if len(value) > max_len:
        raise ValidationError(
            field,
            value,
            f"at most {max_len} characters, got {len(value)}",
            reason=f"{kind_of(field)}.too_long",
        )
    if not value.isascii() and not _is_unicode_text(value):
        raise ValidationError(
            field,
            value.encode("utf-8", "backslashreplace").decode("utf-8"),
            "holds an unpaired surrogate (a \\ud800-\\udfff escape with no "
            "partner), which is not text",
            reason=f"{kind_of(field)}.encoding",
            hint="the source system split a character; send it whole",
        )
    return value


def _is_unicode_text(value: str) -> bool:
    """False for a string with a lone surrogate (JSON lets "\\ud800" through): it has no
    UTF-8 form, so the event could be neither hashed nor stored."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def ident(value: Any, field: str) -> str:
    """An identifier: a non-blank string of at most 128 characters."""
    return text(value, field, MAX_ID)


def boolean(value: Any, field: str) -> bool:
    """A real JSON true/false (not 0/1, not "true")."""
    if not isinstance(value, bool):
        raise ValidationError(
            field,
            value,
            f"must be JSON true or false, got {_json_type(value)}",
            reason=f"{kind_of(field)}.type",
        )
    return value


def enum(value: Any, field: str, allowed: Collection[str]) -> str:
    """One of the `allowed` strings."""
    if not isinstance(value, str):
        raise ValidationError(
            field,
            value,
            f"must be a JSON string, got {_json_type(value)}",
            reason=f"{kind_of(field)}.type",
        )
    if value not in allowed:
        raise ValidationError(
            field,
            value,
            f"expected one of {', '.join(allowed)}",
            reason=f"{kind_of(field)}.unknown",
        )
    return value


def count(value: Any, field: str) -> int:
    """A non-negative JSON integer (people): not a bool, not 3.0, not "3"."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            field,
            value,
            f"must be a whole JSON number, got {_json_type(value)}",
            reason="workers.type",
            hint="write e.g. 12, without quotes or .0",
        )
    if value < 0:
        raise ValidationError(field, value, "must not be negative", reason="workers.negative")
    if value > MAX_WORKERS:
        raise ValidationError(
            field,
            value,
            f"is more people than one event may count (at most {MAX_WORKERS:,})",
            reason="workers.range",
            hint="check the field holds a headcount, not an id or an amount",
        )
    return value


def fen(value: Any, field: str) -> int:
    """Yuan given as a decimal string ("12500.50"), exactly, as integer fen (1250050).

    Strings only: a JSON number may already have been rounded through a float by
    the sender, so it is rejected rather than guessed at.
    """
    if not isinstance(value, str):
        hint = (
            f'write it as a string: "{value}"'
            if isinstance(value, int | float) and not isinstance(value, bool)
            else None
        )
        raise ValidationError(
            field,
            value,
            f"an amount must be a JSON string of yuan, got {_json_type(value)}",
            reason="amount.type",
            hint=hint,
        )
    match = _AMOUNT.fullmatch(value)
    if match is None:
        raise ValidationError(
            field,
            value,
            'expected yuan as digits with an optional decimal point, e.g. "12500.50"',
            reason="amount.format",
            hint="no thousands separators, exponents, spaces or currency signs",
        )
    sign, whole, decimals = match.groups()
    if decimals is not None and len(decimals) > 2:
        raise ValidationError(
            field, value, f"at most 2 decimals (fen), got {len(decimals)}", reason="amount.decimals"
        )
    # Digits are counted before int() reads them: a 5,000-digit amount is refused, not a
    # crash. One int() reads the fen's digits: "12500.5" is int("1250050"), "0.07" int("07").
    whole = whole.lstrip("0")
    too_long = len(whole) > _YUAN_DIGITS
    amount = 0 if too_long else int(whole + (decimals or "").ljust(2, "0"))
    if too_long or amount > MAX_YUAN * 100:
        raise ValidationError(
            field,
            value,
            f"is more than one event may carry (at most {MAX_YUAN:,} yuan)",
            reason="amount.range",
            hint="amounts are yuan with up to 2 decimals; check for a fen/yuan mix-up",
        )
    if sign:
        raise ValidationError(
            field,
            value,
            "must not be negative",
            reason="amount.negative",
            hint="send a correction with supersedes instead of a negative amount",
        )
    return amount


def timestamp(value: Any, field: str) -> datetime:
    """ISO 8601 with an explicit offset, as an aware datetime in +08:00."""
    if not isinstance(value, str):
        raise ValidationError(
            field,
            value,
            f"must be an ISO 8601 string, got {_json_type(value)}",
            reason=f"{kind_of(field)}.type",
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            field,
            value,
            "not an ISO 8601 date-time",
            reason=f"{kind_of(field)}.format",
            hint='e.g. "2024-12-31T16:30:00+08:00"',
        ) from None
    if parsed.tzinfo is None:
        raise ValidationError(
            field,
            value,
            "has no UTC offset; times without an offset are rejected",
            reason=f"{kind_of(field)}.no_offset",
            hint=f'append the offset, e.g. "{value}+08:00"',
        )
    return parsed.astimezone(CST)


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def _json_type(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a decimal number",
        str: "a string",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)
