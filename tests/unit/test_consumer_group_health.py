"""When a consumer holding no partitions is rightly idle, and when it is stuck and must
rejoin (consumers/group_health.py): decided from the broker's picture of the group."""

from __future__ import annotations

from consumers.group_health import AssignmentWatch, Verdict, group_view

TOPIC = "ledger.events"


OWN = "ledger-consume-42-0badcafe"


def described(state: str, *assignments: list[int], topic: str = TOPIC,
              own: bool = True) -> dict[str, object]:
    """The group as the broker describes it: members holding `assignments`, and this
    member holding nothing (unless `own` is False: it is not in the group at all)."""
    members: list[dict[str, object]] = [
        {"member_id": f"m-{i}", "client_id": f"other-{i}", "member_assignment": {
            "assigned_partitions": [{"topic": topic, "partitions": parts}]}}
        for i, parts in enumerate(assignments)
    ]
    if own:
        members.append({"member_id": "m-own", "client_id": OWN, "member_assignment": {
            "assigned_partitions": []}})
    return {"group_state": state, "members": members}


def watch() -> AssignmentWatch:
    return AssignmentWatch(grace_s=3.0, probe_every_s=5.0, stall_after_s=30.0)


def test_the_view_counts_only_the_partitions_of_the_watched_topic() -> None:
    view = group_view(described("Stable", [0, 1], [2]), TOPIC, range(4), OWN)
    assert view.owned == {0, 1, 2}
    assert view.unowned == {3}
    other = group_view(described("Stable", [0, 1, 2, 3], topic="other"), TOPIC, range(4), OWN)
    assert other.unowned == {0, 1, 2, 3}


def test_a_member_not_yet_synced_owns_nothing() -> None:
    description = {"group_state": "CompletingRebalance",
                   "members": [{"member_id": "m-0", "member_assignment": b""}]}
    assert group_view(description, TOPIC, range(2), OWN).unowned == {0, 1}


def test_what_the_broker_gave_this_member_does_not_count_as_owned_by_others() -> None:
    description = described("Stable", [0])
    description["members"].append(  # type: ignore[attr-defined]
        {"member_id": "m-own", "client_id": OWN, "member_assignment": {
            "assigned_partitions": [{"topic": TOPIC, "partitions": [1, 2]}]}})
    assert group_view(description, TOPIC, range(3), OWN).unowned == {1, 2}


def test_an_empty_group_leaves_every_partition_unowned() -> None:
    view = group_view({"group_state": "Empty", "members": []}, TOPIC, range(3), OWN)
    assert (view.state, view.unowned) == ("Empty", {0, 1, 2})


def test_a_member_holding_partitions_is_never_questioned() -> None:
    w = watch()
    assert all(w.observe(t, holding=True) is Verdict.WAIT for t in range(0, 100, 7))


def test_an_empty_assignment_is_left_alone_for_a_grace_period_then_checked() -> None:
    w = watch()
    assert w.observe(0.0, holding=False) is Verdict.WAIT
    assert w.observe(2.9, holding=False) is Verdict.WAIT
    assert w.observe(3.0, holding=False) is Verdict.PROBE


def test_a_surplus_member_whose_partitions_the_others_own_is_idle_and_stays_put() -> None:
    w = watch()
    w.observe(0.0, holding=False)
    w.observe(3.0, holding=False)
    full = group_view(described("Stable", [0, 1], [2]), TOPIC, range(3), OWN)
    assert w.probed(3.0, full) is Verdict.IDLE
    assert w.observe(4.0, holding=False) is Verdict.IDLE
    for t in range(8, 200, 5):  # asked again and again, never told to reconnect
        assert w.observe(float(t), holding=False) is Verdict.PROBE
        assert w.probed(float(t), full) is Verdict.IDLE


def test_partitions_owned_by_nobody_for_the_stall_window_make_the_member_reconnect() -> None:
    w = watch()
    w.observe(0.0, holding=False)
    stuck = group_view(described("Stable", []), TOPIC, range(3), OWN)
    verdicts = []
    for t in (3.0, 8.0, 13.0, 18.0, 23.0, 28.0, 33.0):
        assert w.observe(t, holding=False) is Verdict.PROBE
        verdicts.append(w.probed(t, stuck))
    assert verdicts == [Verdict.WAIT] * 6 + [Verdict.RECONNECT]


def test_a_rebalance_that_completes_in_time_resets_the_stall_window() -> None:
    w = watch()
    w.observe(0.0, holding=False)
    stuck = group_view(described("PreparingRebalance"), TOPIC, range(3), OWN)
    assert w.probed(3.0, stuck) is Verdict.WAIT
    assert w.observe(20.0, holding=True) is Verdict.WAIT  # assigned: all forgotten
    w.observe(21.0, holding=False)
    assert w.observe(24.0, holding=False) is Verdict.PROBE
    assert w.probed(40.0, stuck) is Verdict.WAIT  # a new window, from 40 s


def test_a_broker_that_cannot_be_asked_proves_nothing_either_way() -> None:
    w = watch()
    w.observe(0.0, holding=False)
    assert w.probed(3.0, None) is Verdict.WAIT
    assert w.observe(4.0, holding=False) is Verdict.WAIT  # not idle: unknown
    assert w.probed(100.0, None) is Verdict.WAIT  # and never a reconnect on no answer


def test_a_topic_without_partitions_is_not_called_covered() -> None:
    w = watch()
    w.observe(0.0, holding=False)
    nothing = group_view(described("Stable"), TOPIC, (), OWN)
    assert w.probed(3.0, nothing) is Verdict.WAIT


def test_a_member_the_group_no_longer_counts_reconnects_though_the_others_own_everything(
) -> None:
    w = watch()
    w.observe(0.0, holding=False)
    outside = group_view(described("Stable", [0, 1, 2], own=False), TOPIC, range(3), OWN)
    assert not outside.present and not outside.unowned
    verdicts = []
    for t in (3.0, 8.0, 13.0, 18.0, 23.0, 28.0, 33.0):
        assert w.observe(t, holding=False) is Verdict.PROBE
        verdicts.append(w.probed(t, outside))
    assert verdicts == [Verdict.WAIT] * 6 + [Verdict.RECONNECT]
