"""Many obligations at once, for the reminder relay under load and faults: steps missed
and climbing through a few leads' chains of supervisors, across many cases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.support.scenario import SALES_ORG, act, assign, event, tick

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone(timedelta(hours=8)))
#: The leads whose steps are missed (each reports to e-zhang, who reports to e-boss).
LEADS = [f"e-clerk-{n}" for n in range(4)]


def _process(lead: str) -> dict[str, Any]:
    return event(
        f"process-inspect-{lead}", "ledger.process.defined", "2026-01-01T00:00:00+08:00",
        {"process_id": f"inspect-{lead}", "version": 1,
         "steps": [{"step": "inspect", "title": "Inspect", "lead": {"employee_id": lead},
                    "due": "PT24H", "escalate_levels": 3, "escalate_after": "PT8H"}]},
    )


def climbing_cases(cases: int) -> list[dict[str, Any]]:
    """`cases` cases, each a step missed by one of LEADS that climbs two levels; every
    fourth step is completed late (after its first escalation), the rest never."""
    events: list[dict[str, Any]] = [*SALES_ORG]
    for lead in LEADS:
        events += [assign(lead, "sales", "e-zhang"), _process(lead)]
    for n in range(cases):
        case, lead = f"RT-{n:05d}", LEADS[n % len(LEADS)]
        opened = T0 + timedelta(days=n % 20, hours=n % 8, minutes=n % 60)
        events.append(act(f"{case}-open", "ledger.case.opened", case, _iso(opened), title=case,
                          opened_by=lead, process_id=f"inspect-{lead}", process_version=1))
        if n % 4 == 0:  # 28 hours on: missed, escalated once, then done within the 8 hours
            events.append(act(f"{case}-done", "ledger.step.completed", case,
                              _iso(opened + timedelta(hours=28)), step="inspect",
                              actor_id=lead))
    events.append(tick("2026-04-01T00:00:00+08:00"))
    return events


def _iso(moment: datetime) -> str:
    return moment.isoformat()
