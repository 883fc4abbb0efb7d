"""A month at a store, end to end through Kafka (docs/domain-rules.md, section 8): the
events published with kafka-python, `ledger consume --until-idle`, `ledger work
--until-idle`, then the API over the same store: scores, the obligations queue and who
held the approval permission when."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.queries import ReadSide
from cli.root import build_ledger
from ledger.adapters.store import EventStore
from ledger.adapters.validation import default_validator
from ledger.application.recording import Ledger
from ledger.domain.access import Role
from projections.runner import Projections
from tests.fault.harness import (
    KAFKA_WARNINGS,
    LEDGER_BIN,
    REPO,
    Scenario,
    publish,
    scenario_fixture,  # noqa: F401  (the `scenario` fixture)
)
from tests.support.api import LATENESS, Service
from tests.support.clock import FixedClock
from tests.support.powers import GRANTED, access, appeal, approve, decide, role
from tests.support.scenario import SALES_ORG, act, event, policy, submit, tick
from tests.support.scenario import Scenario as Story
from tests.support.second_round import INSPECTION_PROCESS

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, KAFKA_WARNINGS, pytest.mark.timeout(240)]

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}
PENALTIES = {"violated_policy": 5, "review_missed": 3, "acted_without_permission": 4,
             "approved_violation": 2, "missed_deadline": 2, "escalation_ignored": 1}

#: March at Zhang's store: Zhang loses the approver role on 1 March and approves a return
#: the next day anyway; gets it back on the 10th; Li's returns break the policy, one of
#: them overturned on appeal; an inspection step is missed and climbs to e-boss; scored on
#: the kpi scheme.
MONTH = [
    *SALES_ORG,
    role("store-manager", ["approve_returns"], ["sales_order"]),
    role("clerk", [], ["sales_order"]),
    access("e-zhang", "store-manager", GRANTED),
    access("e-li", "clerk", GRANTED),
    policy(approver_permission="approve_returns"),
    event("kpi-v1", "ledger.scoring.defined", "2026-03-01T00:00:00+08:00", {
        "scheme_id": "kpi", "version": 1, "penalties": PENALTIES,
        "severity_factor": {"minor": 0.5, "major": 1, "critical": 2},
        "bonuses": {"step_on_time": 1, "review_done": 1}}, source="hr/appraisal"),
    access("e-zhang", "store-manager", "2026-03-01T10:00:00+08:00", "revoked"),
    submit("SO-2001", "SO-2001", "2026-03-02T10:00:00+08:00"),
    approve("SO-2001", "e-zhang", "2026-03-02T11:00:00+08:00"),
    INSPECTION_PROCESS,
    act("RT-1-open", "ledger.case.opened", "RT-1", "2026-03-02T10:00:00+08:00",
        title="Return RT-1", opened_by="e-li", process_id="returns", process_version=1),
    access("e-zhang", "store-manager", "2026-03-10T00:00:00+08:00"),
    submit("SO-2002", "SO-2002", "2026-03-11T10:00:00+08:00"),
    approve("SO-2002", "e-zhang", "2026-03-11T12:00:00+08:00"),
    submit("SO-2003", "SO-2003", "2026-03-12T10:00:00+08:00"),
    submit("SO-2004", "SO-2004", "2026-03-13T10:00:00+08:00"),
    tick("2026-03-20T00:00:00+08:00"),
]


def _appeal_of_so_2003() -> list[dict[str, Any]]:
    """Li's appeal against her SO-2003 liability, overturned by HR (the liability's id is
    the engine's, so it is read from a dry run of the same month)."""
    ledger = Ledger(EventStore(_sqlite()), default_validator(), FixedClock())
    story = Story(ledger).send(*MONTH)
    liability = next(d["liability_id"] for e in story.derived("liability.assigned")
                     if (d := e["data"])["case_id"] == "SO-2003" and d["employee_id"] == "e-li")
    ledger.store.close()
    return [appeal(liability, "e-li", "2026-03-21T09:00:00+08:00", "appeal-2003"),
            decide(liability, "e-hr", "overturned", "2026-03-22T09:00:00+08:00", "decided-2003"),
            tick("2026-04-01T00:10:00+08:00")]


def _sqlite() -> Any:
    from ledger.config import Settings

    return Settings(home=Path(tempfile.mkdtemp(prefix="month-")), database_url=None)


def _key(envelope: dict[str, Any]) -> bytes:
    """The contract's Kafka key: the case, else what an org or definition event defines."""
    data = envelope["data"]
    return str(envelope.get("subject") or data.get("unit_id") or data.get("employee_id")
               or envelope["id"]).encode()


def _ledger(scenario: Scenario, log: Path, *args: str) -> None:
    env = scenario.env(LEDGER_WORK_MODE="embedded")
    with log.open("ab") as out:
        done = subprocess.run([LEDGER_BIN, *args], env=env, cwd=REPO, stdout=out,
                              stderr=subprocess.STDOUT, timeout=150)
    assert done.returncode == 0, log.read_text(errors="replace")[-3000:]


@pytest.fixture
def month(scenario: Scenario, tmp_path: Path) -> Iterator[Service]:
    events = [*MONTH, *_appeal_of_so_2003()]
    publish(scenario.topic, [(_key(e), orjson.dumps(e)) for e in events])
    log = tmp_path / "ledger.log"
    _ledger(scenario, log, "consume", "--metrics-port", "-1", "--until-idle", "2")
    _ledger(scenario, log, "work", "--until-idle")
    settings = scenario.settings()
    ledger = build_ledger(settings)
    projections = Projections(ledger.store, store_name=settings.store_name, lateness=LATENESS)
    try:
        app = create_app(ledger, read_side=ReadSide(ledger, projections=projections))
        with TestClient(app) as client:
            service = Service(ledger, settings, client, projections)
            projections.catch_up()  # nothing left to do if the worker projected it all
            yield service
    finally:
        projections.drop()
        ledger.store.close()


def test_a_month_through_kafka_scores_queues_and_names_the_holders_of_the_permission(
    month: Service,
) -> None:
    scores = month.get("/v1/scores", role=Role.HR, **MARCH)
    people = {p["employee_id"]: (Decimal(str(p["penalty"])), Decimal(str(p["bonus"])))
              for p in scores["employees"]}
    # Li: three broken policies (5 each, SO-2003 overturned: 0) and the missed inspection;
    # Zhang: the approval without the permission, three missed reviews (SO-2001: an
    # approval without the permission is no review), the approved violation and the
    # ignored escalation; e-boss: the escalation he ignored at the top.
    assert people["e-li"] == (Decimal(5 + 5 + 5 + 2), Decimal(0))
    assert people["e-zhang"] == (Decimal(4 + 3 + 3 + 3 + 2 + 1), Decimal(0))
    assert people["e-boss"] == (Decimal(1), Decimal(0))
    overturned = [i for p in scores["employees"] for i in p["items"]
                  if i["status"] == "overturned"]
    assert [(i["case_id"], i["points"]) for i in overturned] == [("SO-2003", 0)]
    assert {u["unit_id"]: Decimal(str(u["penalty"])) for u in scores["units"]}["sales"] == 17 + 16

    queue = month.get("/v1/obligations", role=Role.AUDITOR, limit=100)["items"]
    steps = sorted((o["holder_id"], o["status"]) for o in queue if o["obligation"] == "step")
    assert steps == [("e-boss", "missed"), ("e-li", "missed"), ("e-zhang", "missed")]
    reviews = {o["case_id"]: o["status"] for o in queue
               if o["obligation"] == "review" and o["holder_id"] == "e-zhang"}
    assert reviews == {"SO-2001": "missed", "SO-2002": "done", "SO-2003": "missed",
                       "SO-2004": "missed"}

    before = month.get("/v1/permissions/approve_returns/holders", role=Role.HR,
                       at="2026-03-02T11:00:00+08:00")
    assert before["holders"] == []
    after = month.get("/v1/permissions/approve_returns/holders", role=Role.HR,
                      at="2026-03-11T12:00:00+08:00")
    assert [(h["employee_id"], h["grant_event_id"]) for h in after["holders"]] == [
        ("e-zhang", "granted-store-manager-e-zhang-2026-03-10T00:00:00+08:00")]
