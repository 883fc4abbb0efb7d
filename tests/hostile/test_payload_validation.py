"""Payloads the engine could not compute with are refused at ingest, each for its own reason,
on every path (HTTP, `ledger ingest`, Kafka), and never cost the other events of their
batch: integers beyond I-JSON's range, duplicate keys, times and durations beyond the
documented bounds, control characters in identifiers. Random JSON and random bytes get a
clean refusal or an acceptance the ledger can hash and derive from, never an exception."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from consumers.batch import BatchRecorder
from consumers.dlq import list_dead_letters
from consumers.messages import InboundMessage, parse_value
from ledger.adapters import strict_json
from ledger.adapters.validation import EventValidator, default_validator
from ledger.application.file_ingest import ingest_file
from ledger.application.recording import Ledger
from ledger.domain.access import Role
from ledger.domain.envelope import Envelope, content_digest
from ledger.domain.representable import bounded_duration, event_time
from tests.support.api import bearer, issue
from tests.support.envelopes import envelope, make_envelope

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = default_validator()

POLICY = {"policy_id": "P-1", "version": 1, "applies_to": "sales_order",
          "rule": "payload.return_days <= 30", "severity": "high", "review_within": "PT24H"}
STEP: dict[str, Any] = {"step": "draft", "lead": {"unit_id": "sales"}, "due": "P2D"}
PROCESS = {"process_id": "launch", "version": 1, "steps": [STEP]}


def good(event_id: str) -> bytes:
    return orjson.dumps(envelope(event_id))


def _replaced(event: dict[str, Any], old: bytes, new: bytes) -> bytes:
    raw = orjson.dumps(event)
    assert raw.count(old) == 1, (raw, old)
    return raw.replace(old, new)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": [value]}
    return value


class Case(NamedTuple):
    """A hostile event (its bytes, given its id), the rule and field it must be refused by."""

    build: Any
    rule: str
    field: str


CASES: dict[str, Case] = {
    "integer_beyond_64_bits": Case(
        lambda i: _replaced(envelope(i), b'"return_days":7',
                            b'"return_days":123456789012345678901234567890'),
        "integer_out_of_range", "data.payload.return_days"),
    "integer_beyond_2_53": Case(
        lambda i: _replaced(envelope(i), b'"return_days":7', b'"return_days":-9007199254740993'),
        "integer_out_of_range", "data.payload.return_days"),
    "number_beyond_a_doubles_precision": Case(
        lambda i: _replaced(envelope(i), b'"return_days":7',
                            b'"return_days":12345678.900000000001'),
        "number_inexact", "data.payload.return_days"),
    "duplicate_tenant": Case(
        lambda i: _replaced(envelope(i), b'"tenant":"acme"', b'"tenant":"beta","tenant":"acme"'),
        "duplicate_key", "tenant"),
    "duplicate_nested_key": Case(
        lambda i: _replaced(envelope(i), b'"return_days":7', b'"return_days":7,"return_days":70'),
        "duplicate_key", "data.payload.return_days"),
    "second_60": Case(
        lambda i: orjson.dumps(envelope(i, time="2026-03-02T23:59:60Z")), "invalid_time", "time"),
    "offset_beyond_24h": Case(
        lambda i: orjson.dumps(envelope(i, time="2026-03-02T10:00:00+25:00")),
        "invalid_time", "time"),
    "year_0": Case(
        lambda i: orjson.dumps(envelope(i, time="0000-03-02T10:00:00Z")), "invalid_time", "time"),
    "year_9995": Case(
        lambda i: orjson.dumps(envelope(i, time="9995-03-02T10:00:00Z")),
        "time_unrepresentable", "time"),
    "review_within_a_billion_years": Case(
        lambda i: orjson.dumps(make_envelope(i, "ledger.policy.defined", subject=None,
                                             data={**POLICY, "review_within": "P999999999Y"})),
        "duration_out_of_range", "data.review_within"),
    "step_due_in_99999999_days": Case(
        lambda i: orjson.dumps(make_envelope(
            i, "ledger.process.defined", subject=None,
            data={**PROCESS, "steps": [{**STEP, "due": "P99999999D"}]})),
        "duration_out_of_range", "data.steps.0.due"),
    "nesting_300_deep": Case(
        lambda i: json.dumps(envelope(i, payload=_nested(300))).encode(), "nesting_too_deep",
        ".".join(["data", "payload", *["k", "0"] * 31])),
    "nul_in_id": Case(lambda i: orjson.dumps(envelope(f"{i}\x00")), "control_character", "id"),
    "newline_in_subject": Case(
        lambda i: orjson.dumps(envelope(i, subject="SO-1\n001")), "control_character", "subject"),
    "delete_in_actor_id": Case(
        lambda i: orjson.dumps(envelope(i, actor_id="e-\x7fli")),
        "control_character", "data.actor_id"),
}


def reasons(outcome: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["rule"], r["field"]) for r in outcome.get("reasons", [])}


# --- the bounds themselves ----------------------------------------------------------------


def test_a_duration_of_ten_years_is_accepted_and_one_day_more_is_not() -> None:
    assert bounded_duration("P10Y") and bounded_duration("P3653D")
    with pytest.raises(ValueError, match="longer than 10 years"):
        bounded_duration("P3654D")


def test_an_event_time_ten_years_short_of_year_9999_is_the_last_accepted() -> None:
    assert event_time("9989-12-31T23:59:59.999999-23:59")
    with pytest.raises(ValueError, match="outside"):
        event_time("9990-01-01T00:00:00Z")
    with pytest.raises(ValueError, match="outside"):
        event_time("0001-01-01T00:30:00+01:00")  # its UTC instant is before year 1


# --- HTTP -------------------------------------------------------------------------------


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger)) as client:
        client.headers.update(bearer(issue(client, Role.PUBLISHER)))
        yield client


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_event_posted_in_a_batch_is_refused_by_its_rule_and_the_rest_recorded(
    client: TestClient, ledger: Ledger, name: str
) -> None:
    case = CASES[name]
    body = b"[" + b",".join([good("a"), case.build("bad"), good("b")]) + b"]"
    response = client.post("/v1/events", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["recorded", "rejected", "recorded"]
    assert (case.rule, case.field) in reasons(results[1])
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a", "b"]


def test_a_single_posted_event_with_a_30_digit_integer_is_a_422_not_a_500(
    client: TestClient,
) -> None:
    body = CASES["integer_beyond_64_bits"].build("big")
    response = client.post("/v1/events", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    (result,) = response.json()["results"]
    assert reasons(result) == {("integer_out_of_range", "data.payload.return_days")}


# --- file -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_line_of_a_file_is_refused_by_its_rule_and_the_other_lines_recorded(
    ledger: Ledger, tmp_path: Path, name: str
) -> None:
    case = CASES[name]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join([good("a"), case.build("bad"), good("b")]) + b"\n")
    report = ingest_file(ledger, path, batch_size=2)
    assert (report.counts["recorded"], report.rejected) == (2, 1)
    assert report.rejects_path is not None
    (reject,) = [orjson.loads(line) for line in report.rejects_path.read_bytes().splitlines()]
    assert reject["line"] == 2
    assert (case.rule, case.field) in reasons(reject)
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a", "b"]


def test_ledger_ingest_refuses_a_big_integer_line_without_a_traceback_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    lines = [good("a"), CASES["integer_beyond_64_bits"].build("big"),
             CASES["duplicate_tenant"].build("dup"), good("b")]
    path.write_bytes(b"\n".join(lines) + b"\n")
    env = {**os.environ, "LEDGER_HOME": str(tmp_path / "var")}
    env.pop("LEDGER_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "cli", "ingest", str(path)],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
                            check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    rejects = [orjson.loads(line) for line in
               (tmp_path / "events.jsonl.rejected.jsonl").read_bytes().splitlines()]
    assert [(r["line"], r["reasons"][0]["rule"]) for r in rejects] == [
        (2, "integer_out_of_range"), (3, "duplicate_key")]
    # The rejects keep the line as received: the 30 digits are all there.
    assert "123456789012345678901234567890" in rejects[0]["original"]


# --- Kafka ------------------------------------------------------------------------------


def _messages(values: list[bytes]) -> list[InboundMessage]:
    return [InboundMessage("hostile", 0, i, b"SO-1001", v) for i, v in enumerate(values)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_message_parsed_by_the_consumer_is_refused_by_its_rule(name: str) -> None:
    case = CASES[name]
    value, problem = parse_value(case.build("bad"))
    assert problem is None
    problems = VALIDATOR.validate(value)
    assert (case.rule, case.field) in {(p.rule, p.field) for p in problems}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_message_of_a_kafka_batch_is_dead_lettered_with_its_rule(
    ledger: Ledger, name: str
) -> None:
    case = CASES[name]
    result = BatchRecorder(ledger).record(_messages([good("a"), case.build("bad"), good("b")]))
    assert (result.recorded, result.dead_lettered) == (2, 1)
    (view,) = list_dead_letters(ledger)
    assert case.rule in view.letter.rules
    assert view.letter.value == case.build("bad")
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a", "b"]


# --- the strict reader ------------------------------------------------------------------


def test_the_fast_reading_and_the_strict_one_agree_on_plain_json() -> None:
    raw = orjson.dumps([envelope("a", note="10:00 \u00e9 \\u003a"), envelope("b")])
    assert strict_json.loads(raw) == strict_json._strict(raw) == orjson.loads(raw)


@pytest.mark.parametrize("text", ["1.50", "0.1", "1e2", "-0.0", "123456789012345.0",
                                  "0.30000000000000004", "5e-324"])
def test_a_number_a_double_holds_exactly_as_written_is_read_as_that_double(text: str) -> None:
    assert strict_json.loads(b'{"n":' + text.encode() + b"}") == {"n": float(text)}


@pytest.mark.parametrize("raw", [
    b'{"a":"\\u003a","a":"\\u003a"}',  # escaped colons must not hide a dropped key
    b'{"a":{"b":1,"b":1}}',
    b'[{"x":1}, {"a":"x:y","a":"z"}]',
])
def test_a_duplicate_key_is_found_however_the_colons_are_written(raw: bytes) -> None:
    value = strict_json.loads(raw)
    items = value if isinstance(value, list) else [value]
    assert any(isinstance(item, strict_json.Refused) for item in items)


def test_bytes_that_are_not_json_raise_invalid_json_only() -> None:
    for raw in (b"", b"{", b"NaN", b'{"a": Infinity}', b"\xff", b"[1e400]", b"[" * 5000):
        with pytest.raises(strict_json.InvalidJson):
            strict_json.loads(raw)


# --- fuzz --------------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "\x00", "\u2028", "\ud7ff\U0010ffff", "10:00:00", "\\u003a", "=1+1", "a" * 40])
_SCALARS = (st.none() | st.booleans() | _TEXT | st.floats(allow_nan=False, allow_infinity=False)
            | st.integers(min_value=-(2**70), max_value=2**70)
            | st.integers(min_value=-(10**40), max_value=10**40))
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(_TEXT, inner, max_size=6),
    max_leaves=40,
)


def _write(value: Any, duplicate: bool) -> str:
    """JSON text of `value`, with the first key of each object repeated when `duplicate`."""
    if isinstance(value, dict):
        members = [f"{json.dumps(k, ensure_ascii=False)}:{_write(v, duplicate)}"
                   for k, v in value.items()]
        if duplicate and value:
            key, inner = next(iter(value.items()))
            members.append(f"{json.dumps(key, ensure_ascii=False)}:{_write(inner, duplicate)}")
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_write(v, duplicate) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _cleanly_judged(item: object, validator: EventValidator) -> None:
    """A validation answer, and for an accepted event what the ledger then does with it."""
    problems = validator.validate(item)
    if not problems:
        assert isinstance(item, dict)
        received = Envelope.from_validated(item, validator.stream_key(item))
        assert content_digest(received.received) == received.digest
        event_time(received.received["time"])


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(value=JSON, duplicate=st.booleans())
def test_random_json_is_read_and_judged_without_an_exception(value: Any, duplicate: bool) -> None:
    raw = _write(value, duplicate).encode("utf-8", "surrogatepass")
    try:
        read = strict_json.loads(raw)
    except strict_json.InvalidJson:
        return  # e.g. a lone surrogate: refused as not JSON, the whole of it
    for item in read if isinstance(read, list) else [read]:
        _cleanly_judged(item, VALIDATOR)


@FUZZ
@given(payload=JSON, time=_TEXT | st.sampled_from(
    ["9989-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-03-02T23:59:60+08:00"]),
       identifier=_TEXT.filter(bool), duplicate=st.booleans())
def test_random_payloads_in_an_envelope_are_refused_cleanly_or_accepted_and_derivable(
    payload: Any, time: str, identifier: str, duplicate: bool
) -> None:
    event = envelope(identifier[:128], payload=payload)
    event["time"] = time if time[:2].isdigit() else event["time"]
    raw = _write(event, duplicate).encode("utf-8", "surrogatepass")
    try:
        read = strict_json.loads(raw)
    except strict_json.InvalidJson:
        return
    _cleanly_judged(read, VALIDATOR)
    if duplicate:
        assert VALIDATOR.validate(read), "a duplicate key is always refused"


@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes_are_invalid_json_or_judged_cleanly(raw: bytes) -> None:
    value, problem = parse_value(raw)
    if problem is None:
        _cleanly_judged(value, VALIDATOR)
    else:
        assert problem.rule == "invalid_json"


@FUZZ
@given(value=JSON)
def test_deep_and_wide_json_is_judged_cleanly(value: Any) -> None:
    deep: Any = value
    for _ in range(200):
        deep = {"k": [deep]}
    wide = {f"k{i}": value for i in range(200)}
    for event in (envelope("deep", payload=deep), envelope("wide", payload=wide)):
        _cleanly_judged(strict_json.loads(json.dumps(event).encode()), VALIDATOR)
