"""The duties the partition-0 member of the workers' group runs beside its derivation.

It relays committed entries to the entries topic and keeps the read models current. Run
in the derivation loop, each waited for the others (a relay only after a poll's timeout
and a round, the views only after the tenants' derivation), which made every verdict's
latency their sum; each in its own thread (`FollowerThread`), a relay follows the store
as soon as an append commits and the views follow whatever any worker derived.
"""

from __future__ import annotations

from ledger.application.follower import FollowerThread


class Duties:
    """Followers run together while a condition holds (holding partition 0)."""

    def __init__(self, *tasks: FollowerThread) -> None:
        self.tasks = tasks
        self._seen = 0

    def hold(self, leading: bool) -> None:
        for task in self.tasks:
            if leading:
                task.start()
            elif task.running:
                task.stop(60.0)

    def moved(self) -> bool:
        """Whether the tasks found work since last asked (for --until-idle)."""
        done = sum(task.done for task in self.tasks)
        moved, self._seen = done != self._seen, done
        return moved

    def stop(self) -> None:
        for task in self.tasks:
            task.stop(60.0)
