"""API response models, kept apart from domain objects."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
