"""Helpers shared by tests, benchmarks and the worked-examples script: plain code, no fixtures.

Fixtures live in conftest.py files; test modules import helpers from here, never from
one another.
"""
