"""An array body is cut into each element's own text, exactly as it was written."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ledger.adapters.json_texts import element_texts, reads_as, received_texts
from ledger.domain.envelope import content_digest

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**53 + 1, 2**53 - 1),
                    st.text(max_size=6))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=8)
spaces = st.text(alphabet=" \t\r\n", max_size=3)


@given(st.lists(st.tuples(values, st.booleans(), spaces, spaces), max_size=5), spaces)
def test_the_elements_of_an_array_are_cut_out_exactly_as_written(
    items: list[tuple[Any, bool, str, str]], outside: str
) -> None:
    written = [json.dumps(value, ensure_ascii=ascii, indent=1 if ascii else None)
               for value, ascii, _, _ in items]
    text = outside + "[" + ",".join(
        before + element + after for element, (_, _, before, after) in zip(
            written, items, strict=True)) + "]" + outside
    assert element_texts(text) == written
    assert received_texts(text.encode(), orjson.loads(text)) == written


def test_a_single_event_body_is_kept_whole() -> None:
    body = b' {"a" : "\\u4e2d"}\n'
    assert received_texts(body, orjson.loads(body)) == [body.decode()]


def test_what_is_not_an_array_gives_no_elements() -> None:
    assert element_texts('{"a": 1}') is None
    assert element_texts("[1 2]") is None
    assert element_texts("[1] 2") is None
    assert element_texts("") is None


def test_an_array_nested_too_deep_to_cut_keeps_no_texts() -> None:
    deep = "[" * 5000 + "]" * 5000
    body = f"[{deep}, 1]".encode()
    assert received_texts(body, [[], 1]) == [None, None]


def test_a_text_reads_as_an_envelope_only_when_its_value_is_the_envelopes() -> None:
    digest = content_digest({"b": [1, 2.5], "a": "中"})
    assert reads_as('{ "a":"\\u4e2d", "b":[1, 2.50] }', digest)
    assert not reads_as('{"a":"中", "b":[1, 2.5], "c":null}', digest)
    assert not reads_as('{"a":"x", "a":"中", "b":[1, 2.5]}', digest)
    assert not reads_as("[1]", content_digest([1]))
    assert not reads_as(None, digest)
    assert not reads_as("{", digest)
