"""An event dated ahead of the ledger's clock by more than the tolerance is refused
(`time_in_future`) on every ingest path: HTTP, a file, `ledger ingest` (the composition
root's system clock), Kafka (to the dead letters). The other events of the batch are
recorded, and the tenant's watermark never passes the clock: one source's clock cannot make
other people liable before their deadlines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from consumers.batch import BatchRecorder
from consumers.dlq import list_dead_letters
from consumers.messages import InboundMessage
from ledger.application.admission import Admission
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.file_ingest import ingest_file
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.access import Role
from tests.support.api import bearer, issue
from tests.support.clock import FixedClock
from tests.support.envelopes import envelope

REPO = Path(__file__).resolve().parents[2]
TOLERANCE = timedelta(minutes=5)


@pytest.fixture
def guarded(ledger: Ledger) -> Ledger:
    """The ledger as the composition root builds it: event times judged against its clock."""
    ledger.admission = Admission(future_tolerance=TOLERANCE)
    return ledger


def at(clock: FixedClock, ahead: timedelta) -> str:
    return (clock() + ahead).isoformat()


def recorded_ids(ledger: Ledger) -> list[str]:
    return [e.event_id for e in ledger.store.entries("acme")]


def rules(outcome: Any) -> list[tuple[str, str]]:
    return [(r.rule, r.field) for r in outcome.reasons]


def test_an_event_from_2099_is_refused_and_the_rest_of_the_batch_recorded(
    guarded: Ledger, clock: FixedClock,
) -> None:
    outcomes = guarded.record([envelope("now", time=at(clock, timedelta(0))),
                               envelope("2099", time="2099-01-01T00:00:00Z"),
                               envelope("within", time=at(clock, TOLERANCE))])

    assert [o.status.value for o in outcomes] == ["recorded", "rejected", "recorded"]
    assert rules(outcomes[1]) == [("time_in_future", "time")]
    assert "2099-01-01T00:00:00Z" in outcomes[1].reasons[0].message
    assert recorded_ids(guarded) == ["now", "within"]


def test_the_tolerance_is_judged_against_the_clock_at_the_time_of_recording(
    guarded: Ledger, clock: FixedClock,
) -> None:
    early = envelope("early", time=at(clock, TOLERANCE + timedelta(seconds=1)))
    assert rules(guarded.record([early])[0]) == [("time_in_future", "time")]

    clock.advance(timedelta(seconds=1))

    assert guarded.record([early])[0].status.value == "recorded"


def test_the_watermark_never_passes_the_clock_whatever_a_source_sends(
    guarded: Ledger, clock: FixedClock,
) -> None:
    guarded.record([envelope("now", time=at(clock, timedelta(0))),
                    envelope("2099", time="2099-01-01T00:00:00Z"),
                    envelope("soon", time=at(clock, TOLERANCE))])
    engine = ResponsibilityEngine(guarded, TOLERANCE, clock)
    engine.run_until_idle()

    watermark = engine.watermark("acme")
    assert watermark is not None and watermark <= clock()


def test_over_http_the_refusal_is_a_422_result_and_the_service_keeps_answering(
    guarded: Ledger, clock: FixedClock,
) -> None:
    with TestClient(create_app(guarded)) as client:
        publisher = bearer(issue(client, Role.PUBLISHER))

        response = client.post("/v1/events", headers=publisher, json=[
            envelope("a"), envelope("2099", time="2099-01-01T00:00:00+08:00"), envelope("b")])

        assert response.status_code == 422, response.text
        results = response.json()["results"]
        assert [r["status"] for r in results] == ["recorded", "rejected", "recorded"]
        assert results[1]["reasons"][0]["rule"] == "time_in_future"
        started = time.monotonic()
        assert client.get("/healthz").json() == {"status": "ok"}
        assert time.monotonic() - started < 1.0
    assert recorded_ids(guarded) == ["a", "b"]


def test_in_a_file_the_line_is_refused_with_its_reason_and_the_others_recorded(
    guarded: Ledger, tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in (
        envelope("a"), envelope("2099", time="2099-01-01T00:00:00Z"), envelope("b"))) + b"\n")

    report = ingest_file(guarded, path, batch_size=10)

    assert report.counts == {"recorded": 2, "duplicate": 0, "rejected": 1}
    assert report.rejects_path is not None
    [reject] = [orjson.loads(line) for line in report.rejects_path.read_bytes().splitlines()]
    assert (reject["line"], reject["reasons"][0]["rule"]) == (2, "time_in_future")
    assert recorded_ids(guarded) == ["a", "b"]


def test_ledger_ingest_judges_times_against_the_system_clock(tmp_path: Path) -> None:
    now = datetime.now().astimezone()
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in (
        envelope("a", time=now.isoformat(timespec="seconds")),
        envelope("tomorrow", time=(now + timedelta(days=1)).isoformat(timespec="seconds")),
        envelope("b", time=(now - timedelta(days=1)).isoformat(timespec="seconds")))) + b"\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["LEDGER_HOME"] = str(tmp_path / "var")

    result = subprocess.run([sys.executable, "-m", "cli", "ingest", str(path)], env=env,
                            capture_output=True, text=True, cwd=REPO, timeout=120, check=False)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    rejects = [orjson.loads(line) for line in
               (tmp_path / "events.jsonl.rejected.jsonl").read_bytes().splitlines()]
    assert [(r["line"], r["reasons"][0]["rule"]) for r in rejects] == [(2, "time_in_future")]


def test_from_kafka_the_message_is_dead_lettered_with_its_reason(
    guarded: Ledger,
) -> None:
    values = [orjson.dumps(e) for e in (
        envelope("a"), envelope("2099", time="2099-01-01T00:00:00Z"), envelope("b"))]
    messages = [InboundMessage("clock", 0, i, b"SO-1001", v) for i, v in enumerate(values)]

    result = BatchRecorder(guarded).record(messages)

    assert (result.recorded, result.dead_lettered) == (2, 1)
    (view,) = list_dead_letters(guarded)
    assert "time_in_future" in view.letter.rules
    assert view.letter.value == values[1]
    assert recorded_ids(guarded) == ["a", "b"]


def test_the_composition_root_sets_the_documented_tolerance(tmp_path: Path) -> None:
    from cli.root import build_ledger

    settings = Settings(home=tmp_path, database_url=None)
    ledger = build_ledger(settings)
    try:
        assert ledger.admission.future_tolerance == settings.future_time_tolerance
        assert settings.future_time_tolerance == timedelta(minutes=5)
        assert settings.future_time_tolerance <= settings.allowed_lateness
        assert ledger.admission.max_string_length == settings.max_string_length
    finally:
        ledger.store.close()
