"""Process-wide tuning for the long-running ingest processes (an edge, like the clock).

Ingest allocates a few dozen container objects per event (parsed JSON, envelopes,
domain events, rows) and frees nearly all of them by reference counting a batch later.
CPython's cyclic collector, at its default threshold of 700 allocations, walks them
over and over for cycles that are not there: about a fifth of a consumer's CPU, measured
on `Ledger.record` batches (bench/bench_kafka_ingest.py, 12-16k events/s with this
tuning against 11-12k without). What start-up built (schemas, compiled rules, the
library's modules) is moved out of the collector's sight for good.

The GIL: a pipelined consumer has two busy threads (one parses and validates, one
appends), and the appending one spends part of each batch holding its tenant's turn,
which every other writer waits for. At CPython's default switch interval (5 ms) the
turn stretched each time the parsing thread held the GIL when the append needed it
back (after each network write, each query); a shorter interval keeps the turn short.
"""

from __future__ import annotations

import gc
import sys

#: Allocations between young-generation collections (CPython's default: 700).
GEN0_THRESHOLD = 100_000
#: Seconds a thread may hold the GIL while another waits (CPython's default: 0.005).
SWITCH_INTERVAL_S = 0.0005


def tune_gc_for_ingest() -> None:
    """Collect once, freeze what survives start-up, and collect young objects rarely."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
