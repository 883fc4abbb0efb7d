"""What a consumer-group member knows of each partition it holds, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from consumers.messages import InboundMessage


@dataclass(slots=True)
class PartitionState:
    """One assigned partition: where it reads next, what is buffered, what to tell Kafka."""

    #: The next offset to record; None while pending (its recorded position is not known
    #: yet, so it stays paused and nothing of it is read).
    next: int | None = None
    #: Changes whenever the partition is (re)positioned: a batch read before that is stale.
    epoch: int = 0
    buffer: list[InboundMessage] = field(default_factory=list)
    #: When the oldest buffered message arrived (the linger counts from there).
    first_at: float | None = None
    #: Offset to commit to Kafka, advisory only (the store holds the positions).
    to_commit: int | None = None

    @property
    def pending(self) -> bool:
        return self.next is None

    def take_buffer(self) -> list[InboundMessage]:
        buffer, self.buffer, self.first_at = self.buffer, [], None
        return buffer
