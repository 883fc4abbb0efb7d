"""Process-wide tuning for the long-running ingest, derivation and projection processes
(an edge, like the clock).

Each allocates a few dozen container objects per event (parsed JSON, envelopes, domain
events, rows) and frees nearly all of them by reference counting a batch later.
CPython's cyclic collector, at its default threshold of 700 allocations, walks them
over and over for cycles that are not there: about a fifth of a consumer's CPU, a tenth
of a worker's (docs/decisions/0004-gc-tuning-for-ingest.md). What start-up built
(schemas, compiled rules, the library's modules) is moved out of the collector's sight.
"""

from __future__ import annotations

import gc

#: Allocations between young-generation collections (CPython's default: 700).
GEN0_THRESHOLD = 100_000


def tune_gc_for_ingest() -> None:
    """Collect once, freeze what survives start-up, and collect young objects rarely."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
