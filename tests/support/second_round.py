"""Field scenarios for business calendars, step escalation and cooperating parties
(docs/domain-rules.md): shared by the e2e, order-independence and Kafka tests."""

from __future__ import annotations

from typing import Any

from tests.support.scenario import SALES_ORG, act, assign, event, policy, submit, tick, unit

GOLDEN_WEEK = [f"2026-10-0{day}" for day in range(1, 8)]


def calendar(
    version: int = 1, time: str = "2026-01-01T00:00:00+08:00", **extra: Any
) -> dict[str, Any]:
    data = {
        "calendar_id": "cn-mainland",
        "version": version,
        "timezone": "Asia/Shanghai",
        "workweek": [1, 2, 3, 4, 5],
        "holidays": GOLDEN_WEEK,
        "workdays": ["2026-09-27", "2026-10-10"],
        **extra,
    }
    return event(f"calendar-v{version}", "ledger.calendar.defined", time, data)


def assign_calendar(unit_id: str | None = None, time: str = "2026-01-01T00:00:00+08:00") -> (
    dict[str, Any]
):
    data = {"calendar_id": "cn-mainland", **({"unit_id": unit_id} if unit_id else {})}
    return event(f"calendar-to-{unit_id or 'tenant'}", "ledger.calendar.assigned", time, data)


# --- 8.1: a return at a store, the national holiday inside the review window -------------

#: Li promises a 7-day return on the eve of the National Day holiday; Zhang has one
#: business day to review it: the next working day is Thursday 8 October.
HOLIDAY_RETURN = [
    *SALES_ORG,
    calendar(),
    assign_calendar("hq"),
    policy(review_within="P1D", review_counting="business", time="2026-09-01T00:00:00+08:00",
           version=3),
    submit("SO-0930", "SO-0930", "2026-09-30T10:00:00+08:00"),
]
HOLIDAY_REVIEW_DUE = "2026-10-08T10:00:00+08:00"

# --- 8.3: a launch where the data unit's part comes late -------------------------------

LAUNCH_ORG = [
    unit("hq", head="e-ceo"),
    unit("market", head="e-zhao", parent="hq"),
    unit("data", head="e-qin", parent="hq"),
    assign("e-ceo", "hq"),
    assign("e-zhao", "market", "e-ceo"),
    assign("e-qin", "data", "e-ceo"),
    assign("e-sun", "market", "e-zhao"),
    assign("e-lu", "data", "e-qin"),
]
LAUNCH_PROCESS = event(
    "process-launch-v2",
    "ledger.process.defined",
    "2026-01-01T00:00:00+08:00",
    {
        "process_id": "launch",
        "version": 2,
        "steps": [
            {
                "step": "research",
                "title": "Market research",
                "lead": {"unit_id": "market"},
                "due": "P7D",
                "cooperating": [{"unit_id": "data", "due": "P3D", "outputs": ["market_data"]}],
            }
        ],
    },
)
LATE_PART = [
    *LAUNCH_ORG,
    LAUNCH_PROCESS,
    act("L2-open", "ledger.case.opened", "LAUNCH-2", "2026-03-02T09:00:00+08:00",
        title="Spring launch", opened_by="e-ceo", process_id="launch", process_version=2),
    # the data unit's first part lacks the survey data: it does not count
    act("L2-part-1", "ledger.step.contributed", "LAUNCH-2", "2026-03-04T09:00:00+08:00",
        step="research", actor_id="e-lu", outputs={"notes": "draft"}),
    act("L2-part-2", "ledger.step.contributed", "LAUNCH-2", "2026-03-07T09:00:00+08:00",
        step="research", actor_id="e-lu", outputs={"market_data": "dms://survey.xlsx"}),
    act("L2-research", "ledger.step.completed", "LAUNCH-2", "2026-03-11T09:00:00+08:00",
        step="research", actor_id="e-sun"),
    tick("2026-03-12T00:00:00+08:00"),
]

# --- 8.2: an inspection step missed that climbs two levels -----------------------------

INSPECTION_PROCESS = event(
    "process-returns-v1",
    "ledger.process.defined",
    "2026-01-01T00:00:00+08:00",
    {
        "process_id": "returns",
        "version": 1,
        "steps": [
            {
                "step": "inspect",
                "title": "Inspect the returned goods",
                "lead": {"employee_id": "e-li"},
                "due": "PT24H",
                "escalate_levels": 3,
                "escalate_after": "PT8H",
            }
        ],
    },
)
CLIMB = [
    *SALES_ORG,
    INSPECTION_PROCESS,
    act("RT-1-open", "ledger.case.opened", "RT-1", "2026-03-02T10:00:00+08:00",
        title="Return RT-1", opened_by="e-li", process_id="returns", process_version=1),
    tick("2026-03-05T00:00:00+08:00"),
]
