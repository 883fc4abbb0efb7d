"""Old topics of moved event classes, so that events stored under them still load.

eventsourcing stores each event with its class path ("module:Class") as topic and finds
the class again by that path. When a persisted class moves, add its old path below (or
call `register_moved` with it, for classes outside ledger): decoding then still works.
Queries that filter by topic (rows.ENTRY_TOPIC and the like) use the class's current
path, so a moved class must also keep them on the stored string; the persisted topics
are pinned by tests/unit/test_persisted_topics.py so a move never goes unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from eventsourcing.utils import register_topic

#: Stored topic -> the class it names now. Empty: no persisted class has moved yet.
MOVED: Final[Mapping[str, type]] = {}


def register_moved(moved: Mapping[str, type] = MOVED) -> None:
    """Resolve each old topic to its class from now on (idempotent)."""
    for old_topic, cls in moved.items():
        register_topic(old_topic, cls)
