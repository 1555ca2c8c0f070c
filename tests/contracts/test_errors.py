"""The error hierarchy and its messages."""

import json

import pytest

from contracts.errors import MISSING, ContractError, ValidationError, field_prefix, join_field


def test_validation_error_is_a_contract_error_with_all_parts() -> None:
    err = ValidationError(
        "payload.workers",
        -3,
        "must not be negative",
        reason="workers.negative",
        hint="count people",
    )
    assert isinstance(err, ContractError)
    assert (err.field, err.value, err.expected, err.hint, err.reason) == (
        "payload.workers",
        -3,
        "must not be negative",
        "count people",
        "workers.negative",
    )
    assert str(err) == "payload.workers -3: must not be negative; count people"
    assert "workers.negative" in repr(err)


def test_message_quotes_values_with_spaces_and_leaves_out_missing_ones() -> None:
    assert str(ValidationError("name", "a b", "bad", reason="r")) == "name 'a b': bad"
    assert str(ValidationError("source", MISSING, "required", reason="r")) == "source: required"
    assert str(ValidationError("", MISSING, "not JSON", reason="r")) == "not JSON"
    long = str(ValidationError("id", "x" * 200, "too long", reason="r"))
    assert "..." in long and len(long) < 120


def test_under_prefixes_the_field_path() -> None:
    err = ValidationError("id", "X", "bad", reason="uscc.length").under("payload.employer")
    assert err.field == "payload.employer.id" and err.reason == "uscc.length"


def test_field_prefix_rewrites_nested_errors() -> None:
    with pytest.raises(ValidationError) as info, field_prefix("payload"):
        raise ValidationError("employer.id", "X", "bad", reason="uscc.length")
    assert str(info.value) == "payload.employer.id X: bad"
    assert isinstance(info.value.__cause__, ValidationError)


def test_join_field_skips_empty_parts() -> None:
    assert join_field("", "unit") == "unit"
    assert join_field("payload", "workers") == "payload.workers"


def test_record_json_keeps_text_and_escapes_only_what_has_no_utf8_form() -> None:
    from contracts.deadletter import record_json

    assert record_json({"name": "常州"}) == '{"name": "常州"}'
    text = record_json({"name": "常州\ud800"})  # a lone surrogate: a rejected record's
    assert text.encode("utf-8") and json.loads(text) == {"name": "常州\ud800"}
