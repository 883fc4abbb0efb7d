"""The one builder of CloudEvents-style ledger envelopes for tests, bench/ and examples/.

Kept here, not in ledger/, because its defaults are fixture data (acme, SO-1001, e-li);
bench/ and examples/ run from the repository root, where `tests` is importable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

TENANT = "acme"


def submitted_data(**overrides: Any) -> dict[str, Any]:
    """Data of a valid ledger.operation.submitted (Li's 7-day return: E1's violation)."""
    return {
        "actor_id": "e-li",
        "operation": "sales_order",
        "payload": {"return_days": 7},
        **overrides,
    }


def make_envelope(
    event_id: str = "SO-1001-submitted",
    type_: str = "ledger.operation.submitted",
    time: str | datetime = "2026-03-02T10:00:00+08:00",
    data: dict[str, Any] | None = None,
    *,
    tenant: str = TENANT,
    source: str = "erp/orders",
    subject: str | None = "SO-1001",
    **attributes: Any,
) -> dict[str, Any]:
    """An envelope; every part has a default that makes a valid submission of case SO-1001.

    `subject=None` leaves the subject out (org, policy and other non-case events); a
    datetime `time` is written in ISO 8601; `attributes` are extra envelope attributes
    (traceparent, ...), written after `data`.
    """
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": type_,
        "time": time.isoformat() if isinstance(time, datetime) else time,
        "tenant": tenant,
    }
    if subject is not None:
        envelope["subject"] = subject
    envelope["data"] = submitted_data() if data is None else data
    envelope.update(attributes)
    return envelope


def envelope(
    event_id: str = "SO-1001-submitted",
    *,
    tenant: str = TENANT,
    source: str = "erp/orders",
    subject: str = "SO-1001",
    time: str = "2026-03-02T10:00:00+08:00",
    **data: Any,
) -> dict[str, Any]:
    """A valid ledger.operation.submitted envelope; keyword args override its data."""
    return make_envelope(
        event_id, time=time, data=submitted_data(**data), tenant=tenant, source=source,
        subject=subject,
    )
