"""Response models of the read API (docs/domain-rules.md, Queries), kept apart from the
views' rows.

The routes answer with orjson directly; these models document the shapes (OpenAPI) and
tests validate answers against them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["direct", "supervisor", "cooperating"]
Basis = Literal["violated_policy", "approved_violation", "review_missed", "missed_deadline",
                "passed_defect", "overrode_control", "missed_contribution",
                "escalation_ignored"]
ViolationStatus = Literal["open", "reviewed", "approved", "missed", "escalated"]


class LiabilityOut(BaseModel):
    liability_id: str
    employee_id: str
    kind: Kind
    basis: Basis
    case_id: str
    unit_id: str | None = Field(description="The liable employee's unit at the time.")
    role: str | None = Field(description="`producer` / `inspector` for passed defects.")
    violation_id: str | None
    step: str | None
    at: str = Field(description="Business time of the liability, RFC 3339 as derived.")
    event_ids: list[str] = Field(description="The ledger events behind it.")
    event_refs: list[str] = Field(description="The same events as `source#id`.")
    position: int = Field(description="Position of the `liability.assigned` entry in the "
                          "tenant's ledger.")
    corrected: bool = Field(description="A later `liability.corrected` withdrew it; it stays "
                            "visible with its correction.")
    corrected_reason: str | None
    replaced_by: str | None = Field(description="The liability that replaces it, if any.")
    corrected_at: str | None


class LinkOut(BaseModel):
    event_id: str
    event_ref: str | None = None
    type: str
    step: str | None = None
    actor_id: str | None
    unit_id: str | None
    expected_lead: str | None = None
    at: str
    due: str | None = None
    on_time: bool | None = None
    flags: list[str]


class SourceOut(BaseModel):
    event_id: str
    employee_id: str | None
    unit_id: str | None
    reason: str


class ChainOut(BaseModel):
    case_id: str
    links: list[LinkOut] = Field(description="The case's operations in business-time order.")
    responsibility_source: SourceOut | None = Field(
        description="The earliest link that failed; null when none did.")
    liabilities: list[LiabilityOut]


class ViolationOut(BaseModel):
    violation_id: str
    case_id: str
    event_id: str = Field(description="The violating event's id.")
    event_ref: str | None
    employee_id: str
    supervisor_id: str | None = Field(description="Who holds the review now (after "
                                      "escalations).")
    flagged_supervisor_id: str | None = Field(description="The supervisor at the violation's "
                                              "time, who first held the review.")
    unit_id: str | None = Field(description="The violator's unit at the time.")
    severity: str
    policy_id: str
    policy_version: int
    reason: str | None
    at: str
    review_due: str | None = Field(description="When the current holder's review is due.")
    status: ViolationStatus
    decision: str | None = Field(description="The latest review's decision.")
    reviewed_by: str | None
    reviewed_at: str | None
    approved_by: str | None
    approved_at: str | None
    missed_due: str | None = Field(description="The latest review deadline that was missed.")
    escalated_to: str | None
    escalated_at: str | None
    position: int


class ViolationPage(BaseModel):
    items: list[ViolationOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on "
                                    "the last page.")


class LiabilityPage(BaseModel):
    items: list[LiabilityOut]
    next_cursor: str | None


class UnitReportRow(BaseModel):
    unit_id: str
    name: str | None
    steps_due: int = Field(description="Steps judged in the period: on time + overdue.")
    steps_on_time: int
    steps_overdue: int
    violations: int
    liabilities: int = Field(description="Liabilities in force (corrected ones excluded).")
    completion_rate: float | None = Field(description="on time / due; null with none due.")
    rank: int = Field(description="1 = best completion rate; ties share a rank.")


class UnitReport(BaseModel):
    tenant: str
    from_: str | None = Field(alias="from")
    to: str | None
    units: list[UnitReportRow]
