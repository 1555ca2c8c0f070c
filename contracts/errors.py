"""One root error for the contracts, and validation errors a person can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

__all__ = ["ContractError", "ValidationError", "MISSING", "field_prefix", "join_field"]


class _Missing:
    """Marker for "the field was not there", distinct from an explicit null."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

_MAX_SHOWN = 80


class ContractError(Exception):
    """Root of every error raised by `contracts`."""


def join_field(prefix: str, field: str) -> str:
    """Join dotted field paths, ignoring empty parts: join_field("payload", "workers")."""
    return ".".join(part for part in (prefix, field) if part)


def _show(value: Any) -> str:
    if value is MISSING:
        return ""
    if (
        isinstance(value, str)
        and value
        and len(value) <= _MAX_SHOWN
        and value.isprintable()
        and " " not in value
    ):
        return value
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


class ValidationError(ContractError):
    """A value broke a contract.

    `field` is a dotted path ("payload.employer.id"), `value` the offending value,
    `expected` what the contract wants (or what is wrong), `hint` how to fix it and
    `reason` a short stable code ("uscc.check_char") used to group dead letters.

    >>> str(ValidationError("payload.workers", -3, "must not be negative",
    ...                     reason="workers.negative"))
    'payload.workers -3: must not be negative'
    """

    def __init__(
        self,
        field: str,
        value: Any,
        expected: str,
        *,
        reason: str,
        hint: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        self.hint = hint
        self.reason = reason
        super().__init__(self.message)

    @property
    def message(self) -> str:
        head = " ".join(part for part in (self.field, _show(self.value)) if part)
        text = f"{head}: {self.expected}" if head else self.expected
        return f"{text}; {self.hint}" if self.hint else text

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ValidationError(reason={self.reason!r}, message={self.message!r})"

    def under(self, prefix: str) -> ValidationError:
        """The same error with `prefix` put in front of its field path."""
        return ValidationError(
            join_field(prefix, self.field),
            self.value,
            self.expected,
            reason=self.reason,
            hint=self.hint,
        )


@contextmanager
def field_prefix(prefix: str) -> Iterator[None]:
    """Re-raise validation errors from a nested object with `prefix` on their field.

    >>> with field_prefix("payload"):  # doctest: +SKIP
    ...     parse_employer(raw["employer"], field="employer")
    """
    try:
        yield
    except ValidationError as err:
        raise err.under(prefix) from err
