"""The event types of the contract, in one place: what producers may send, what only the
ledger writes. schemas/types.json says the same for producers outside Python; a unit test
(tests/unit/test_catalog.py) keeps the two equal, and the validator refuses to start if
they ever differ.
"""

from __future__ import annotations

from typing import Final

# --- inbound: sent by upstream systems (docs/domain-rules.md, Upstream event types) --------

ORG_UNIT_DEFINED: Final = "ledger.org.unit.defined"
ORG_EMPLOYEE_ASSIGNED: Final = "ledger.org.employee.assigned"
ORG_EMPLOYEE_DEPARTED: Final = "ledger.org.employee.departed"
ACCESS_ROLE_DEFINED: Final = "ledger.access.role.defined"
ACCESS_ROLE_GRANTED: Final = "ledger.access.role.granted"
ACCESS_ROLE_REVOKED: Final = "ledger.access.role.revoked"
POLICY_DEFINED: Final = "ledger.policy.defined"
PROCESS_DEFINED: Final = "ledger.process.defined"
CASE_OPENED: Final = "ledger.case.opened"
STEP_STARTED: Final = "ledger.step.started"
STEP_COMPLETED: Final = "ledger.step.completed"
OPERATION_SUBMITTED: Final = "ledger.operation.submitted"
OPERATION_APPROVED: Final = "ledger.operation.approved"
OPERATION_REJECTED: Final = "ledger.operation.rejected"
INSPECTION_RECORDED: Final = "ledger.inspection.recorded"
DECISION_OVERRIDDEN: Final = "ledger.decision.overridden"
VIOLATION_REVIEWED: Final = "ledger.violation.reviewed"
INCIDENT_REPORTED: Final = "ledger.incident.reported"
CASE_CLOSED: Final = "ledger.case.closed"
LIABILITY_APPEALED: Final = "ledger.liability.appealed"
APPEAL_DECIDED: Final = "ledger.appeal.decided"
SCORING_DEFINED: Final = "ledger.scoring.defined"
CALENDAR_DEFINED: Final = "ledger.calendar.defined"
CALENDAR_ASSIGNED: Final = "ledger.calendar.assigned"
STEP_CONTRIBUTED: Final = "ledger.step.contributed"

INBOUND_TYPES: Final[frozenset[str]] = frozenset(
    {
        ORG_UNIT_DEFINED,
        ORG_EMPLOYEE_ASSIGNED,
        ORG_EMPLOYEE_DEPARTED,
        ACCESS_ROLE_DEFINED,
        ACCESS_ROLE_GRANTED,
        ACCESS_ROLE_REVOKED,
        POLICY_DEFINED,
        PROCESS_DEFINED,
        CASE_OPENED,
        STEP_STARTED,
        STEP_COMPLETED,
        OPERATION_SUBMITTED,
        OPERATION_APPROVED,
        OPERATION_REJECTED,
        INSPECTION_RECORDED,
        DECISION_OVERRIDDEN,
        VIOLATION_REVIEWED,
        INCIDENT_REPORTED,
        CASE_CLOSED,
        LIABILITY_APPEALED,
        APPEAL_DECIDED,
        SCORING_DEFINED,
        CALENDAR_DEFINED,
        CALENDAR_ASSIGNED,
        STEP_CONTRIBUTED,
    }
)

# --- derived: written by the responsibility engine only (docs/domain-rules.md) -------------

VIOLATION_FLAGGED: Final = "violation.flagged"
DEADLINE_MISSED: Final = "deadline.missed"
OBLIGATION_ESCALATED: Final = "obligation.escalated"
LIABILITY_ASSIGNED: Final = "liability.assigned"
LIABILITY_CORRECTED: Final = "liability.corrected"
DUTY_FULFILLED: Final = "duty.fulfilled"
#: An obligation's clock started / its due time is near / it was met (reminders).
OBLIGATION_OPENED: Final = "obligation.opened"
OBLIGATION_DUE_SOON: Final = "obligation.due_soon"
OBLIGATION_DONE: Final = "obligation.done"
#: A liability's appeal history and status, restated as it grows.
APPEAL_JUDGED: Final = "appeal.judged"
#: An entry a stage (derivation, a projection) failed on repeatedly, set aside with its case.
ENTRY_QUARANTINED: Final = "ledger.entry.quarantined"
#: A quarantined case handed back to its stage after a fix (`ledger quarantine retry`).
ENTRY_RELEASED: Final = "ledger.entry.released"

DERIVED_TYPES: Final[frozenset[str]] = frozenset(
    {
        VIOLATION_FLAGGED,
        DEADLINE_MISSED,
        OBLIGATION_ESCALATED,
        LIABILITY_ASSIGNED,
        LIABILITY_CORRECTED,
        DUTY_FULFILLED,
        OBLIGATION_OPENED,
        OBLIGATION_DUE_SOON,
        OBLIGATION_DONE,
        APPEAL_JUDGED,
        ENTRY_QUARANTINED,
        ENTRY_RELEASED,
    }
)
