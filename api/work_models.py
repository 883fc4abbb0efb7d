"""Response models and examples of the work queries (docs/domain-rules.md, Obligations and
reminders; Scores for appraisal; Power and responsibility), taken from the section 8
scenarios, for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

ObligationStatus = Literal["open", "missed", "done"]


class ObligationOut(BaseModel):
    obligation_id: str = Field(description="The same from opening to end (and in the "
                               "`ledger.obligations` topic).")
    obligation: Literal["step", "review", "contribution"]
    case_id: str
    holder_id: str = Field(description="Who owes it.")
    unit_id: str | None = Field(description="The holder's unit when it opened.")
    step: str | None
    violation_id: str | None = Field(description="The violation a review is about.")
    party: str | None = Field(description="The cooperating party a contribution is owed by.")
    level: int = Field(description="1: the first holder; 2 and up: after escalations.")
    opened_at: str | None
    due: str
    status: ObligationStatus
    due_soon: bool = Field(description="Open, and the watermark is within the reminder lead "
                           "time (LEDGER_OBLIGATION_DUE_SOON) of its due time.")
    due_soon_at: str | None
    done_at: str | None
    done_event_id: str | None
    missed_at: str | None
    escalated_to: str | None = Field(description="Who it climbed to when missed.")
    escalated_at: str | None
    position: int = Field(description="Ledger position of the latest entry about it.")


class ObligationPage(BaseModel):
    items: list[ObligationOut]
    next_cursor: str | None


class ScoreItem(BaseModel):
    record: Literal["liability", "positive"]
    record_id: str
    liability_id: str | None
    basis: str | None
    kind: str | None = Field(description="The positive record's kind (step_on_time, "
                             "review_done).")
    severity: str | None
    case_id: str
    unit_id: str | None
    at: str
    points: float = Field(description="Signed: penalties negative.")
    status: Literal["counted", "corrected", "overturned", "no_scheme"]
    scheme_id: str | None
    scheme_version: int | None
    event_ids: list[str]


class EmployeeScore(BaseModel):
    employee_id: str
    unit_id: str | None = Field(description="The unit of their latest record in the period.")
    penalty: float
    bonus: float
    total: float = Field(description="bonus - penalty")
    items: list[ScoreItem]


class UnitScore(BaseModel):
    unit_id: str
    name: str | None
    members: int = Field(description="Employees with a record in the unit in the period.")
    penalty: float
    bonus: float
    total: float


class SchemeOut(BaseModel):
    scheme_id: str
    version: int
    since: str
    event_id: str


class Scores(BaseModel):
    tenant: str
    from_: str | None = Field(alias="from")
    to: str | None
    unit_id: str | None
    scheme_id: str | None
    schemes: list[SchemeOut]
    employees: list[EmployeeScore]
    units: list[UnitScore]


class Holder(BaseModel):
    employee_id: str
    role: str
    granted_at: str
    grant_event_id: str
    grant_event_ref: str
    role_defined_event_id: str | None
    event_ids: list[str] = Field(description="The grant and the role definition in force.")


class Holders(BaseModel):
    permission: str
    at: str
    holders: list[Holder]


OBLIGATION: dict[str, Any] = {
    "obligation_id": "O-3f9a1c2b7d4e5f60a1b2", "obligation": "review", "case_id": "SO-1001",
    "holder_id": "e-zhang", "unit_id": "sales", "step": None,
    "violation_id": "return-window@v1:erp/orders#SO-1001-submitted", "party": None,
    "level": 1, "opened_at": "2026-03-02T10:00:00+08:00", "due": "2026-03-03T10:00:00+08:00",
    "status": "open", "due_soon": True, "due_soon_at": "2026-03-02T10:00:00+08:00",
    "done_at": None, "done_event_id": None, "missed_at": None, "escalated_to": None,
    "escalated_at": None, "position": 44,
}
OBLIGATIONS: dict[str, Any] = {"items": [OBLIGATION], "next_cursor": None}

SCORES: dict[str, Any] = {
    "tenant": "acme", "from": "2026-03-01", "to": "2026-03-31", "unit_id": "sales",
    "scheme_id": None,
    "schemes": [{"scheme_id": "kpi", "version": 1, "since": "2026-01-01T00:00:00+08:00",
                 "event_id": "scoring-kpi-v1"}],
    "employees": [{
        "employee_id": "e-zhang", "unit_id": "sales", "penalty": 3, "bonus": 1, "total": -2,
        "items": [
            {"record": "positive", "record_id": "D-8c1f", "liability_id": None, "basis": None,
             "kind": "review_done", "severity": None, "case_id": "SO-1002", "unit_id": "sales",
             "at": "2026-03-02T18:00:00+08:00", "points": 1, "status": "counted",
             "scheme_id": "kpi", "scheme_version": 1, "event_ids": ["rev-1002"]},
            {"record": "liability", "record_id": "L-5d1f0c2a9b7e",
             "liability_id": "L-5d1f0c2a9b7e", "basis": "review_missed", "kind": None,
             "severity": "major", "case_id": "SO-1001", "unit_id": "sales",
             "at": "2026-03-03T10:00:00+08:00", "points": -3, "status": "counted",
             "scheme_id": "kpi", "scheme_version": 1, "event_ids": ["SO-1001-submitted"]},
        ],
    }],
    "units": [{"unit_id": "sales", "name": "销售部 Sales", "members": 1, "penalty": 3,
               "bonus": 1, "total": -2}],
}
SCORES_CSV = ("employee_id,unit_id,record,record_id,basis_or_kind,case_id,at,points,status,"
              "scheme\r\ne-zhang,sales,liability,L-5d1f0c2a9b7e,review_missed,SO-1001,"
              "2026-03-03T10:00:00+08:00,-3,counted,kpi v1\r\n")

HOLDERS: dict[str, Any] = {
    "permission": "approve_refund", "at": "2026-03-03T12:00:00+08:00",
    "holders": [{"employee_id": "e-zhang", "role": "refund-approver",
                 "granted_at": "2026-01-01T00:00:00+08:00", "grant_event_id": "grant-zhang",
                 "grant_event_ref": "hr/roles#grant-zhang",
                 "role_defined_event_id": "role-refund-approver",
                 "event_ids": ["grant-zhang", "role-refund-approver"]}],
}
