"""Fixtures shared by the read-side tests: an API over a store with the worked examples."""

from tests.integration.test_query_api import service, worked  # noqa: F401
