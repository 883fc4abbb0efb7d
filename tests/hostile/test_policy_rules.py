"""Customer policy rules in a box: a rule text that would crash or panic the CEL parser is
refused at definition (`rule_too_complex`, naming the limit) before the parser sees it, and
costs no other event of its batch; a rule within the limits that runs long ends as "could
not be evaluated within budget", once per (rule, payload); an evaluator that segfaults is
contained. Throughout, the service keeps answering /healthz within a second."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import cel
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from ledger.adapters.rule_sandbox import SandboxConfig, SandboxedEvaluator
from ledger.adapters.validation import default_validator
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.domain.access import Role
from ledger.domain.responsibility.policy_check import evaluate_rule
from ledger.domain.responsibility.rules import RuleLimits, RuleOutcome, Verdict
from tests.support.api import bearer, issue
from tests.support.envelopes import envelope, make_envelope

LATENESS = timedelta(minutes=5)
TEN = "[0,1,2,3,4,5,6,7,8,9]"
TOO_COMPLEX = "rule_too_complex"
#: The issue's rules (and smaller kin), each with the refusal's rule and a part of its message.
HOSTILE = {
    "60 KB of 1+1+...": ("1+" * 30_000 + "1 > 0", TOO_COMPLEX,
                         "length 60005 characters exceeds 4096"),
    "30,000-deep field path": ("payload" + ".a" * 30_000 + " == 1", TOO_COMPLEX,
                               "length 60012 characters exceeds 4096"),
    "2,000-deep field path": ("payload" + ".a" * 2_000 + " == 1", TOO_COMPLEX,
                              "too complex: field path depth 17 exceeds 16"),
    # Past the string length limit of every event, which refuses it first.
    "100,000 nested parentheses": ("(" * 100_000 + "1" + ")" * 100_000 + " == 1",
                                   "string_too_long", ""),
    "40 nested parentheses": ("(" * 40 + "1" + ")" * 40 + " == 1", TOO_COMPLEX,
                              "nesting depth 33 exceeds 32"),
    "7 nested all()": ("".join(f"{TEN}.all(x{i}, " for i in range(7)) + "true" + ")" * 7,
                       TOO_COMPLEX, "comprehension nesting depth 3 exceeds 2"),
    "a list literal of 300 items": (f"payload.n in [{', '.join(['1'] * 300)}]", TOO_COMPLEX,
                                    "literal of 300 items exceeds 256"),
}
#: Within every static limit, but quadratic in a payload list: its size decides the cost.
QUADRATIC = "payload.xs.all(a, payload.xs.all(b, a + b >= 0))"


def policy(event_id: str, rule: str) -> dict[str, Any]:
    data = {"policy_id": "P-1", "version": 1, "applies_to": "sales_order", "rule": rule,
            "severity": "major"}
    return make_envelope(event_id, "ledger.policy.defined", "2026-03-01T00:00:00+08:00", data,
                         source="hr/policies", subject=None)


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger)) as client:
        client.headers.update(bearer(issue(client, Role.PUBLISHER)))
        yield client


class CountingSandbox(SandboxedEvaluator):
    """Counts the evaluations that reached a worker (the cache answers the others), asked
    one by one or prefetched."""

    ran = 0

    def _run_batch(self, items: Sequence[tuple[str, dict[str, Any]]]) -> list[RuleOutcome]:
        self.ran += len(items)
        return super()._run_batch(items)


@pytest.fixture
def sandbox() -> Iterator[CountingSandbox]:
    box = CountingSandbox(SandboxConfig(workers=1, budget_s=0.2))
    yield box
    box.close()


def assert_healthy_within_a_second(client: TestClient) -> None:
    started = time.monotonic()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert time.monotonic() - started < 1.0


def violation_reasons(ledger: Ledger) -> list[str]:
    return [e.envelope["data"]["reason"] for e in ledger.store.entries("acme")
            if e.envelope["type"] == "violation.flagged"]


# --- at definition ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_rule_in_a_batch_is_refused_as_too_complex_and_the_good_events_recorded(
    client: TestClient, ledger: Ledger, name: str
) -> None:
    rule, refusal, limit = HOSTILE[name]
    batch = [envelope("a"), policy("bad", rule), envelope("b", subject="SO-1002")]

    response = client.post("/v1/events", json=batch)

    assert response.status_code == 422, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["recorded", "rejected", "recorded"]
    (reason,) = results[1]["reasons"]
    assert (reason["rule"], reason["field"]) == (refusal, "data.rule")
    assert limit in reason["message"]
    assert [e.event_id for e in ledger.store.entries("acme")] == ["a", "b"]
    assert_healthy_within_a_second(client)


def test_a_parser_panic_refuses_the_rule_and_not_the_batch(
    client: TestClient, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    class PanicException(BaseException):  # what pyo3 raises for a Rust panic
        pass

    def panicking(rule: str) -> None:
        raise PanicException("attempt to subtract with overflow")

    monkeypatch.setattr(cel, "compile", panicking)  # the module validation calls
    batch = [envelope("a"), policy("bad", "payload.return_days <= 3"), envelope("b")]

    response = client.post("/v1/events", json=batch)

    assert response.status_code == 422, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results][:2] == ["recorded", "rejected"]
    assert [r["rule"] for r in results[1]["reasons"]] == ["cel_compile"]
    assert "PanicException" not in response.headers.get("content-type", "")
    assert_healthy_within_a_second(client)


def test_a_rule_within_the_limits_is_accepted_as_before(client: TestClient) -> None:
    rule = f"{TEN}.all(a, {TEN}.exists(b, a + b >= payload.return_days))"
    response = client.post("/v1/events", json=[policy("ok", rule)])
    assert response.status_code == 200, response.text


_ATOMS = st.sampled_from(["payload.x", "1", "'a('", '"]"', "true", "r'\\'", "[1, 2]", "{}",
                          "payload.a.b.c", "x", "0x1F", "1.5e3", "b'\\x00'", "null", "//(\n1"])
_RULES = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", " && ", "==", " in ", "<", "?"]), inner).map(
            "".join),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"[{e}, {e}]"),
        inner.map(lambda e: f"{{{e}: {e}}}"),
        st.tuples(inner, st.sampled_from(["all", "exists", "map", "filter", "exists_one"]),
                  inner).map(lambda t: f"{t[0]}.{t[1]}(v, {t[2]})"),
        st.tuples(st.integers(1, 200), st.sampled_from("([{")).map(lambda t: t[1] * t[0]),
        st.tuples(inner, st.text(max_size=5)).map("".join),
    ),
    max_leaves=60,
)


@given(rule=_RULES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_rule_text_gets_a_clean_answer_at_definition(rule: str) -> None:
    problems = default_validator().validate(policy("p", rule))
    assert {p.rule for p in problems} <= {"cel_compile", "rule_too_complex"}


# --- at evaluation ------------------------------------------------------------------------


def test_a_long_running_rule_ends_within_budget_and_is_not_paid_for_again(
    client: TestClient, ledger: Ledger, sandbox: CountingSandbox
) -> None:
    big = envelope("big", payload={"return_days": 1, "xs": list(range(3000))})
    assert client.post("/v1/events", json=[policy("P-1v1", QUADRATIC), big]).status_code == 200
    engine = ResponsibilityEngine(ledger, LATENESS, ledger.clock, evaluator=sandbox)

    done = threading.Event()

    def derive() -> None:
        engine.run_until_idle()
        done.set()

    runner = threading.Thread(target=derive)
    started = time.monotonic()
    runner.start()
    while not done.is_set() and time.monotonic() - started < 20:
        assert_healthy_within_a_second(client)
        time.sleep(0.05)
    runner.join(20)

    assert done.is_set()
    (reason,) = violation_reasons(ledger)
    assert "could not be evaluated within budget (200 ms of CPU time)" in reason
    evaluations = sandbox.ran

    later = envelope("later", subject="SO-1001", time="2026-03-02T11:00:00+08:00")
    assert client.post("/v1/events", json=[later]).status_code == 200
    engine.run_until_idle()
    assert sandbox.ran == evaluations + 1  # only the new submission reached a worker


def test_a_rule_recorded_before_the_limits_is_not_evaluated(sandbox: CountingSandbox) -> None:
    rule, _, _ = HOSTILE["60 KB of 1+1+..."]
    outcome = sandbox.evaluate(rule, {})
    assert outcome.verdict is Verdict.ERROR
    assert outcome.detail == "rule too complex: length 60005 characters exceeds 4096"
    assert sandbox.ran == 0


def test_a_rule_within_the_limits_gives_the_same_verdict_in_the_sandbox(
    sandbox: CountingSandbox,
) -> None:
    cases: list[tuple[str, Mapping[str, Any]]] = [
        ("payload.return_days <= 3", {"return_days": 7}),
        ("payload.return_days <= 3", {"return_days": 2}),
        ("payload.missing <= 3", {"return_days": 2}),
        ("payload.return_days + 1", {"return_days": 2}),
        (f"{TEN}.all(a, {TEN}.all(b, a * b < payload.n))", {"n": 82}),
    ]
    for rule, payload in cases:
        assert sandbox.evaluate(rule, payload) == evaluate_rule(rule, payload, RuleLimits())


def crash_on_boom(rule: str, payload: Mapping[str, Any], limits: RuleLimits) -> RuleOutcome:
    """A worker's evaluation that segfaults, as the CEL library did on hostile rules."""
    if "boom" in rule:
        os.kill(os.getpid(), signal.SIGSEGV)
    return evaluate_rule(rule, payload, limits)


def test_a_segfaulting_evaluator_is_contained_and_replaced(
    client: TestClient, ledger: Ledger
) -> None:
    box = SandboxedEvaluator(SandboxConfig(workers=1), evaluation=crash_on_boom)
    try:
        batch = [policy("P-1v1", "payload.boom == 1"), envelope("a", payload={"boom": 1})]
        assert client.post("/v1/events", json=batch).status_code == 200
        ResponsibilityEngine(ledger, LATENESS, ledger.clock, evaluator=box).run_until_idle()

        (reason,) = violation_reasons(ledger)
        assert "could not be evaluated: evaluator crashed (worker ended by SIGSEGV)" in reason
        assert_healthy_within_a_second(client)
        assert box.evaluate("payload.x <= 3", {"x": 1}).verdict is Verdict.HOLDS
    finally:
        box.close()
