"""Which tenants have new entries, learnt from the store's notification log (the engine's
embedded mode; a Kafka worker is told instead).

Only the new rows' stream ids are read, never their entries: a stream not seen before is
named by its first entry, once. How far discovery went is recorded (tracking
`responsibility-engine`) once every tenant it found is caught up, so a restart does not
rediscover from the beginning (late is harmless: rediscovered tenants read nothing new).
"""

from __future__ import annotations

import contextlib

from eventsourcing.persistence import Tracking

from ledger.adapters.store import AppendConflict, EventStore

#: Tracking name of the discovery cursor over the notification log.
ENGINE_READER = "responsibility-engine"


class Discovery:
    def __init__(self, store: EventStore, page: int) -> None:
        self.store = store
        self.page = page
        #: How far the log was read (None: not started).
        self.cursor: int | None = None
        self._recorded = 0

    def next_page(self, found: set[str]) -> int:
        """Read one page of the log, adding its tenants to `found`; rows read."""
        if self.cursor is None:
            self.cursor = self._recorded = self.store.max_tracking_id(ENGINE_READER) or 0
        batch = self.store.entry_streams(self.cursor, self.page)
        for stream in {stream for _, stream, _ in batch}:
            tenant = self.store.tenant_of_stream(stream)
            if tenant is not None:
                found.add(tenant)
        if batch:
            self.cursor = batch[-1][0]
        return len(batch)

    def record(self) -> None:
        """Record how far the log was read (call once its tenants are caught up)."""
        if self.cursor is None or self.cursor <= self._recorded:
            return
        with contextlib.suppress(AppendConflict):  # another engine recorded it (or further)
            self.store.append([], Tracking(ENGINE_READER, self.cursor))
        self._recorded = self.cursor
