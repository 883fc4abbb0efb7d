"""API response models, kept apart from domain objects."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.problems import Problem


class ReasonOut(BaseModel):
    rule: str = Field(examples=["required"], description="Machine-readable code.")
    field: str = Field(
        examples=["data.actor_id"], description="Dotted path; empty for the whole event."
    )
    message: str


class EventResult(BaseModel):
    index: int = Field(
        description="Place of the event in the submitted batch (0 for a single event)."
    )
    status: Literal["recorded", "duplicate", "rejected"]
    id: str | None = None
    position: int | None = Field(default=None, description="Position in the tenant's ledger.")
    reasons: list[ReasonOut] = []


class IngestResponse(BaseModel):
    results: list[EventResult]
    counts: dict[str, int]


class IngestProblem(Problem):
    """A batch with refused or rejected events: a problem document (RFC 9457) whose
    extension members are the per-event results, as in a 200 answer."""

    results: list[EventResult]
    counts: dict[str, int]


__all__ = ["EventResult", "IngestProblem", "IngestResponse", "Problem", "ReasonOut"]
