"""The projection base: a batch of ledger entries in, a view's row changes out.

Each projection is an `eventsourcing.projection.Projection` over a `RowView`. The runner
hands it entries in commit order, a batch at a time (`process_batch`), and it writes the
batch's rows with the batch's tracking record in one transaction; `process_event` is the
library's one-event form of the same thing.

Projections are deterministic functions of the ledger's entries in commit order: the same
entries give the same rows whether they came in one batch or a thousand, which is what
makes a rebuild (drop and replay) identical to the live-built view.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from ledger.domain.events import ENTRY_KIND_DERIVED, EntryRecorded
from ledger.domain.responsibility.policy_check import IN_PROCESS
from ledger.domain.responsibility.rules import RuleEvaluator
from projections.schema import Row, ViewSchema, local_day, utc_key
from projections.views import Changes, RowView

ENTRY_TOPIC = get_topic(EntryRecorded)


@dataclass(frozen=True, slots=True)
class ProjectionContext:
    """What a projection may need besides its view: the runner hands the same context to
    every projection, and each takes what it uses."""

    #: How late an event may arrive before the ledger judges without it (the engine's).
    lateness: timedelta = timedelta(minutes=5)
    #: Runs policy rules when a projection assesses a case (the engine's, in a server).
    evaluator: RuleEvaluator = IN_PROCESS
    #: Settled cases a view that keeps cases in memory holds across its tenants; others
    #: are set aside on local disk (None: all held).
    cache_cases: int | None = None
    #: Where set-aside cases go (None: the system's temporary directory).
    spill_dir: Path | None = None


class LedgerProjection(Projection[RowView], ABC):
    """A read model of the ledger's entries (inbound and derived), per tenant."""

    schema: ClassVar[ViewSchema]
    topics = (ENTRY_TOPIC,)
    #: Keeps state in memory that a restart rebuilds by replaying entries up to the view's
    #: position (`warm`), without writing.
    stateful: ClassVar[bool] = False

    def __init__(self, view: RowView, context: ProjectionContext | None = None) -> None:
        super().__init__(view)
        self.context = context or ProjectionContext()
        self.warmed = not self.stateful

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.process_batch([domain_event], tracking)

    def process_batch(
        self, entries: Sequence[EntryRecorded], tracking: Tracking | None, *,
        skip_empty: bool = False,
    ) -> bool:
        """Apply and write `entries`; whether anything was written. `skip_empty`: a batch
        that changes no row is not written at all (its position is then the caller's to
        record): most views take a few types, and most batches bring none of them."""
        changes = Changes(self.schema)
        self.apply(entries, changes)
        if skip_empty and not len(changes):
            return False
        self.view.write(changes, tracking)
        return True

    @abstractmethod
    def apply(self, entries: Sequence[EntryRecorded], changes: Changes) -> None:
        """Put what `entries` change into `changes` (reading current rows as needed)."""

    def warm(self, entries: Sequence[EntryRecorded]) -> None:
        """Take entries already reflected in the view into memory (stateful ones only)."""

    def reset(self) -> None:
        """Forget in-memory state (after a failed write, or before a rebuild)."""
        self.warmed = not self.stateful

    def forget_tenant(self, tenant: str) -> None:
        """Drop one tenant's in-memory state (stateful ones), replayed from the ledger when
        a batch next brings that tenant."""

    @property
    def cases_in_memory(self) -> int:
        """Cases whose facts the view holds in memory (views that keep cases)."""
        return 0

    @property
    def cases_set_aside(self) -> int:
        """Cases the view set aside on local disk until an entry touches them."""
        return 0


# --- helpers shared by the views ------------------------------------------------------------

def is_derived(entry: EntryRecorded, type_: str | None = None) -> bool:
    return entry.kind == ENTRY_KIND_DERIVED and (
        type_ is None or entry.envelope.get("type") == type_)


def derived_key(event_id: str) -> str:
    """The conclusion's key in a derived id `<type>:<key>:<digest>` (ledger.domain.
    responsibility.derive): the same conclusion re-derived with new details keeps it."""
    parts = event_id.split(":")
    return parts[1] if len(parts) == 3 else event_id


def liability_row(entry: EntryRecorded) -> Row:
    """A `liability.assigned` entry as a row of the liabilities view (and of a chain)."""
    data = entry.envelope["data"]
    at = data.get("at") or entry.envelope["time"]
    return {
        "tenant": entry.tenant, "liability_id": data["liability_id"],
        "employee_id": data["employee_id"], "kind": data["kind"], "basis": data["basis"],
        "case_id": data["case_id"], "unit_id": data.get("unit_id"), "role": data.get("role"),
        "violation_id": data.get("violation_id"), "step": data.get("step"),
        "at": at, "at_utc": utc_key(at), "day": local_day(at),
        "event_ids": list(data.get("event_ids", [])),
        "event_refs": list(data.get("event_refs", [])),
        "entry_id": entry.event_id, "position": entry.position,
        "corrected": False, "corrected_reason": None, "replaced_by": None,
        "corrected_at": None, "corrected_position": None,
    }


def correct_liability(row: Row, entry: EntryRecorded) -> Row:
    """The row marked with a `liability.corrected` entry: kept, never deleted."""
    data = entry.envelope["data"]
    return {**row, "corrected": True, "corrected_reason": data.get("reason"),
            "replaced_by": data.get("replaced_by"), "corrected_at": entry.envelope["time"],
            "corrected_position": entry.position}


LIABILITY_FIELDS = ("liability_id", "employee_id", "kind", "basis", "case_id", "unit_id",
                    "role", "violation_id", "step", "at", "event_ids", "event_refs",
                    "position", "corrected", "corrected_reason", "replaced_by",
                    "corrected_at")


def public_liability(row: Row) -> Row:
    """A liability as the API shows it (the same shape in lists and in chains)."""
    return {name: row.get(name) for name in LIABILITY_FIELDS}
