"""The canonical form hashed into the chain is RFC 8785's, whichever serializer writes it."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.envelope import canonical_bytes

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=600)
@given(json_values)
def test_canonical_bytes_are_exactly_rfc_8785(value: object) -> None:
    try:
        expected = bytes(rfc8785.dumps(value))
    except (rfc8785.IntegerDomainError, rfc8785.FloatDomainError, ValueError):
        return
    assert canonical_bytes(value) == expected


def test_chinese_text_and_control_characters_are_canonical() -> None:
    value = {"名字": "李娜\u2028\x01\x7f/\"\\", "b": [1, True, None], "a": {"z": 0, "y": "é"}}
    assert canonical_bytes(value) == bytes(rfc8785.dumps(value))


@pytest.mark.parametrize("number", [2**53 - 1, 2**53, -(2**53 - 1), -(2**53), 10**15, 1.0,
                                    -0.0, 1e16, 5e-324, float("nan"), float("inf")])
def test_numbers_at_the_edges_are_canonical_or_refused_like_the_reference(number: object) -> None:
    for value in ({"n": number}, [number], number):
        try:
            expected: object = bytes(rfc8785.dumps(value))
        except Exception as exc:  # the reference refuses it: so must we
            expected = type(exc)
        try:
            got: object = canonical_bytes(value)
        except Exception as exc:
            got = type(exc)
        assert got == expected
