"""Read models on SQLite and PostgreSQL: rebuilds equal live-built
views, projections resume from their own position, rows and position commit together."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.config import Settings
from projections.reads import ReadModels
from projections.runner import NAMES, Projections, UnknownProjection

LATENESS = timedelta(minutes=5)
WORKED_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "worked-examples.jsonl"


def worked_examples(tenant: str = "acme") -> list[dict[str, Any]]:
    lines = WORKED_EXAMPLES.read_bytes().splitlines()
    return [{**orjson.loads(line), "tenant": tenant} for line in lines if line.strip()]


def org_event(event_id: str, time: str, unit_id: str, supervisor_id: str) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "source": "oa/hr",
            "type": "ledger.org.employee.assigned", "time": time, "tenant": "acme",
            "data": {"employee_id": "e-li", "name": "李娜 Li Na", "unit_id": unit_id,
                     "supervisor_id": supervisor_id}}


def case_event(event_id: str, type_: str, time: str, subject: str,
               **data: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "source": "oa/review", "type": type_,
            "time": time, "tenant": "acme", "subject": subject, "data": data}


#: Arrives after the engine judged E1 and E4: Li reported to Wang from 02-20, so Wang, not
#: Zhang, held both reviews; Zhang's review_missed liabilities are corrected.
LATE_TRANSFER = org_event("assign-e-li-late", "2026-02-20T09:00:00+08:00", "sales-2", "e-wang")


def record_all(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    outcomes = ledger.record(events)
    assert all(o.status.value == "recorded" for o in outcomes), outcomes


def derive(ledger: Ledger) -> None:
    ResponsibilityEngine(ledger, LATENESS, ledger.clock).run_until_idle()


def make_projections(ledger: Ledger, settings: Settings, **options: Any) -> Projections:
    return Projections(ledger.store, store_name=settings.store_name, lateness=LATENESS,
                       **options)


@pytest.fixture
def projections(ledger: Ledger, settings: Settings) -> Iterator[Projections]:
    made = make_projections(ledger, settings, batch_size=3)
    yield made
    made.drop()


def test_a_rebuild_gives_exactly_the_views_that_were_built_live(
    ledger: Ledger, settings: Settings, projections: Projections
) -> None:
    events = [*worked_examples(),
              case_event("rev-1005", "ledger.violation.reviewed", "2026-03-05T18:00:00+08:00",
                         "SO-1005", actor_id="e-zhang", violation_id="SO-1005-submitted",
                         decision="upheld"),
              LATE_TRANSFER]
    engine = ResponsibilityEngine(ledger, LATENESS, ledger.clock)
    for start in range(0, len(events), 4):  # live: small arrivals, engine and views follow
        record_all(ledger, events[start : start + 4])
        engine.run_until_idle()
        projections.catch_up()
    live = projections.dump()
    assert sum(len(rows) for tables in live.values() for rows in tables.values()) > 60

    rebuilt = make_projections(ledger, settings, batch_size=5000)
    processed = rebuilt.rebuild()

    assert set(processed) == set(NAMES)
    assert rebuilt.dump() == live


def test_projections_resume_from_their_own_position_after_a_restart_without_double_counting(
    ledger: Ledger, settings: Settings, projections: Projections
) -> None:
    record_all(ledger, worked_examples())
    derive(ledger)
    head = ledger.store.max_notification_id()
    projections.catch_up(until=head // 2)
    assert {s.position for s in projections.status()} == {head // 2}

    restarted = make_projections(ledger, settings, batch_size=7)  # memory rebuilt on start
    processed = restarted.catch_up()
    entries_after = len(ledger.store.entry_notifications(head // 2, 10_000))
    assert processed == dict.fromkeys(NAMES, entries_after)
    assert restarted.catch_up() == dict.fromkeys(NAMES, 0)
    resumed = restarted.dump()

    restarted.rebuild()
    assert restarted.dump() == resumed
    sales = ReadModels(restarted).unit_report("acme", None, None)
    assert [(u["violations"], u["liabilities"]) for u in sales if u["unit_id"] == "sales"] == \
        [(2, 4)]


def test_a_restarted_runner_loads_each_tenants_memory_as_its_entries_come_and_matches_a_rebuild(
    ledger: Ledger, settings: Settings, projections: Projections
) -> None:
    first, second = worked_examples("acme"), worked_examples("globex")
    record_all(ledger, first)
    record_all(ledger, second[: len(second) // 2])
    derive(ledger)
    projections.catch_up()
    record_all(ledger, [*second[len(second) // 2 :], LATE_TRANSFER])  # globex, then acme
    derive(ledger)

    restarted = make_projections(ledger, settings, batch_size=4)
    restarted.catch_up()
    resumed = restarted.dump()

    restarted.rebuild()
    assert restarted.dump() == resumed


def test_a_batch_whose_read_position_is_refused_leaves_no_rows_behind(
    ledger: Ledger, settings: Settings, projections: Projections
) -> None:
    record_all(ledger, worked_examples())
    derive(ledger)
    entries = [e for _, e in ledger.store.entry_notifications(0, 10_000)]
    liabilities = projections.projections["liabilities"]
    liabilities.view.insert_tracking(Tracking(settings.store_name, 10**9))  # someone is ahead

    with pytest.raises(IntegrityError):
        liabilities.process_batch(entries, Tracking(settings.store_name, 5))

    assert liabilities.view.dump() == {"liabilities": []}


def test_status_shows_each_projections_position_the_ledger_head_and_the_lag(
    ledger: Ledger, projections: Projections
) -> None:
    record_all(ledger, worked_examples())
    head = ledger.store.max_notification_id()
    assert {(s.position, s.head, s.lag) for s in projections.status()} == {(0, head, head)}

    projections.catch_up(["org_history"])

    status = {s.name: s for s in projections.status()}
    assert (status["org_history"].position, status["org_history"].lag) == (head, 0)
    assert status["liabilities"].lag == head


def test_rebuilding_one_projection_leaves_the_others_alone(
    ledger: Ledger, settings: Settings, projections: Projections
) -> None:
    record_all(ledger, worked_examples())
    derive(ledger)
    projections.catch_up()
    before = projections.dump()

    processed = make_projections(ledger, settings).rebuild(["violations"])

    assert set(processed) == {"violations"}
    assert projections.dump() == before


def test_an_unknown_projection_name_is_refused(projections: Projections) -> None:
    with pytest.raises(UnknownProjection):
        projections.rebuild(["nonsense"])


def test_late_org_history_is_slotted_into_place_and_closes_its_neighbours(
    ledger: Ledger, projections: Projections
) -> None:
    record_all(ledger, worked_examples())
    record_all(ledger, [LATE_TRANSFER])
    projections.catch_up()

    history = ReadModels(projections).org_assignments("acme", "e-li")

    assert [(r["event_id"], r["supervisor_id"], r["valid_from"], r["valid_to"])
            for r in history] == [
        ("assign-e-li-1", "e-zhang", "2026-01-01T00:00:00+08:00", "2026-02-20T09:00:00+08:00"),
        ("assign-e-li-late", "e-wang", "2026-02-20T09:00:00+08:00", "2026-03-10T09:00:00+08:00"),
        ("assign-e-li-2", "e-wang", "2026-03-10T09:00:00+08:00", None),
    ]


def test_a_correction_marks_the_old_liability_and_moves_the_unit_counts(
    ledger: Ledger, projections: Projections
) -> None:
    record_all(ledger, worked_examples())
    derive(ledger)
    projections.catch_up()
    record_all(ledger, [LATE_TRANSFER])
    derive(ledger)
    projections.catch_up()
    reads = ReadModels(projections)

    missed = reads.liabilities("acme", basis="review_missed").items
    assert sorted((li["employee_id"], li["corrected"]) for li in missed) == [
        ("e-wang", False), ("e-wang", False), ("e-zhang", True), ("e-zhang", True)]
    replaced = {li["liability_id"] for li in missed if li["employee_id"] == "e-wang"}
    assert {li["replaced_by"] for li in missed if li["corrected"]} == replaced
    units = {u["unit_id"]: u for u in reads.unit_report("acme", None, None)}
    assert (units["sales-2"]["violations"], units["sales-2"]["liabilities"]) == (2, 4)
    assert "sales" not in units or units["sales"]["liabilities"] == 0
    violations = reads.violations("acme").items
    assert {(v["supervisor_id"], v["unit_id"]) for v in violations} == {("e-wang", "sales-2")}


def test_the_cli_rebuilds_a_projection_and_reports_every_projections_lag(
    ledger: Ledger, settings: Settings, projections: Projections,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    record_all(ledger, worked_examples())
    derive(ledger)
    monkeypatch.setenv("LEDGER_HOME", str(settings.home))
    monkeypatch.setenv("LEDGER_STORE_NAME", settings.store_name)
    if settings.database_url:
        monkeypatch.setenv("LEDGER_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    runner = CliRunner()

    rebuilt = runner.invoke(app, ["projections", "rebuild", "liabilities"])
    status = runner.invoke(app, ["projections", "status"])

    assert rebuilt.exit_code == 0, rebuilt.output
    # 37 inbound, 17 verdicts, 16 obligation notices (8.7)
    assert "liabilities" in rebuilt.output and "70" in rebuilt.output
    assert status.exit_code == 0, status.output
    head = str(ledger.store.max_notification_id())
    lines = {line.split("│")[1].strip(): line for line in status.output.splitlines()
             if line.count("│") >= 4}
    assert head in lines["liabilities"] and lines["liabilities"].rstrip("│ ").endswith("0")
    assert lines["violations"].rstrip("│ ").endswith(head)
    assert len(projections.view("liabilities").dump()["liabilities"]) == 8
    unknown = runner.invoke(app, ["projections", "rebuild", "nonsense"])
    assert unknown.exit_code == 2


def test_a_view_holding_one_tenant_in_memory_builds_what_one_holding_all_builds(
    ledger: Ledger, settings: Settings
) -> None:
    tenants = ("acme", "globex", "initech")
    streams = [worked_examples(t) for t in tenants]
    for chunk in range(0, max(len(s) for s in streams), 3):  # tenants take turns
        for stream in streams:
            if stream[chunk : chunk + 3]:
                record_all(ledger, stream[chunk : chunk + 3])
    derive(ledger)
    record_all(ledger, [{**LATE_TRANSFER, "tenant": t} for t in tenants])
    derive(ledger)

    frugal = make_projections(ledger, settings, batch_size=4, cache_tenants=1)
    chains = frugal.projections["case_chains"]
    forgotten: list[str] = []
    forget = chains.forget_tenant
    chains.forget_tenant = lambda tenant: (forgotten.append(tenant), forget(tenant))[1]  # type: ignore[method-assign]
    frugal.catch_up()
    assert len(forgotten) > len(tenants)  # dropped, replayed when next needed, many times
    built = frugal.dump()  # the same tables as the rebuild below: read them before it
    roomy = make_projections(ledger, settings, batch_size=4)
    roomy.rebuild()
    assert built == roomy.dump()
