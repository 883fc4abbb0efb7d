"""Fault tests kill and restart real processes, PostgreSQL and Kafka included: they run
last in a session (after every test that needs those services up), and apart with
`make test-fault` / `pytest -m fault`."""

from __future__ import annotations

import pytest

from tests.fault.harness import scenario_fixture  # noqa: F401  (the `scenario` fixture)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("fault") is not None)
