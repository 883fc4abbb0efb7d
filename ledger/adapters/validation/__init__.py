"""Validation of inbound event envelopes against the contract's machine form.

The JSON Schemas under ``schemas/`` are the contract; this module only adds what JSON
Schema cannot say (that a time is a real instant, that a policy rule compiles as CEL,
that a process's steps form a graph without cycles, that case events carry a subject)
and turns every failure into a :class:`Problem` that a caller can put in an HTTP 4xx
body or a dead-letter header without further translation.

It is pure: the schema files are read once, when an :class:`EventValidator` is built,
and ``validate`` never does I/O, so it can run inside request handlers and consumers
alike and give the same answer on replay.
"""

from ledger.adapters.validation.problems import Problem
from ledger.adapters.validation.schemas import DEFAULT_SCHEMAS_DIR, parse_time
from ledger.adapters.validation.semantic import SEMANTIC_TYPES
from ledger.adapters.validation.validator import EventValidator, default_validator
from ledger.domain.catalog import DERIVED_TYPES, INBOUND_TYPES

__all__ = [
    "DEFAULT_SCHEMAS_DIR",
    "DERIVED_TYPES",
    "INBOUND_TYPES",
    "SEMANTIC_TYPES",
    "EventValidator",
    "Problem",
    "default_validator",
    "parse_time",
]
