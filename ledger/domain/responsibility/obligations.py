"""What is announced about obligations (docs/domain-rules.md, Obligations and reminders).

Every obligation is `opened` when its clock starts, `due_soon` once the watermark passes
its due time minus the reminder lead time (unless it was done before then), and `done`
when it is met. Each is a pure function of the facts and the watermark, never of the wall
clock alone, so a replay announces the same things.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ledger.domain.responsibility.verdicts import CaseAssessment, ObligationNotice

DEFAULT_LEAD = timedelta(hours=24)


def judge(result: CaseAssessment, lead: timedelta, watermark: datetime | None) -> None:
    """Fill `result.notices`; bring `result.next_due` forward to the next reminder."""
    wake: list[datetime] = [] if result.next_due is None else [result.next_due]
    for obligation in result.obligations:
        result.notices.append(ObligationNotice("opened", obligation, obligation.start))
        soon = max(obligation.start, obligation.due - lead)
        done = obligation.done
        if done is not None and done.time <= obligation.due:
            result.notices.append(ObligationNotice("done", obligation, done.time))
        if done is not None and done.time <= soon:
            continue
        if watermark is not None and soon <= watermark:
            result.notices.append(ObligationNotice("due_soon", obligation, soon))
        else:
            wake.append(soon)
    result.next_due = min(wake) if wake else None
