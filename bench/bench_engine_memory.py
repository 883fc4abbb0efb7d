"""The engine's memory for one long-history tenant, with and without the case cache.

For each size (LEDGER_BENCH_MEMORY_ENTRIES, default 20000,80000 entries of one tenant of
the benchmark workload) and each case cache (LEDGER_BENCH_MEMORY_CACHES, default
none,1000,0: everything held, 1,000 settled cases, none), on a fresh store: the tenant is
recorded, then derived in-process by a fresh engine ("derive"), then loaded from its
ledger by another fresh engine, as a restarted worker would ("reload"), then the
case-chains view is built from the whole ledger with the same case cache ("chains").
Measured with tracemalloc (Python's allocations, so neither the interpreter nor SQLite's
page cache): what the engine or the view still holds afterwards and the peak on the way,
the cases in memory, the cases set aside and brought back, and the wall time. The
verdicts, and the chains, of every cache must be the same, or the run fails.

PostgreSQL when LEDGER_BENCH_DATABASE_URL is set (as `make bench` does), else SQLite.
Run alone: `python -m bench.bench_engine_memory`; writes bench/results/engine_memory.json.
"""

from __future__ import annotations

import gc
import hashlib
import os
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bench.bench_projections import _build, _drop_store
from bench.common import bench_database_url, write_results
from bench.workload import workload
from ledger.adapters.case_spill import CaseSpill
from ledger.application.case_cache import CaseCache
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.events import ENTRY_KIND_DERIVED
from projections.runner import Projections

TENANT = "t-memory"
SIZES = [int(n) for n in os.environ.get("LEDGER_BENCH_MEMORY_ENTRIES", "20000,80000").split(",")]
CACHES = [None if c == "none" else int(c)
          for c in os.environ.get("LEDGER_BENCH_MEMORY_CACHES", "none,1000,0").split(",")]


def _settings(home: Path) -> Settings:
    url = bench_database_url()
    if url:
        return Settings(database_url=url, store_name=f"mem_{uuid.uuid4().hex[:8]}",
                        db_pool_size=4)
    return Settings(home=home / uuid.uuid4().hex, database_url=None)


def _measure(ledger: Ledger, settings: Settings, cache_cases: int | None, phase: str,
             entries: int) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cache = None if cache_cases is None else CaseCache(CaseSpill(), cache_cases)
    engine = ResponsibilityEngine(ledger, settings.allowed_lateness, ledger.clock, cases=cache)
    started = time.perf_counter()
    if phase == "derive":
        engine.run_until_idle()
    else:
        engine.assess(TENANT, "")  # loads the tenant from its ledger, as a new owner does
    seconds = time.perf_counter() - started
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = after - before
    row = {
        "entries": entries, "cache_cases": cache_cases, "phase": phase,
        "held_mib": round(held / 2**20, 1), "held_bytes_per_entry": round(held / entries),
        "peak_mib": round((peak - before) / 2**20, 1),
        "cases_in_memory": engine.cases_in_memory(),
        "cases_set_aside": engine.cases_set_aside(),
        "brought_back": cache.brought_back if cache else 0,
        "seconds": round(seconds, 1),
    }
    engine.close()
    return row


def _measure_chains(ledger: Ledger, settings: Settings, cache_cases: int | None,
                    entries: int) -> tuple[dict[str, Any], str]:
    """The case-chains view built in-process; its row and a digest of its chains."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    projections = Projections(ledger.store, store_name=settings.store_name,
                              names=["case_chains"], lateness=settings.allowed_lateness,
                              cache_cases=cache_cases)
    started = time.perf_counter()
    projections.catch_up()
    seconds = time.perf_counter() - started
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = after - before
    chains = projections.projections["case_chains"]
    in_memory, set_aside = projections.cases_held()
    row = {
        "entries": entries, "cache_cases": cache_cases, "phase": "chains",
        "held_mib": round(held / 2**20, 1), "held_bytes_per_entry": round(held / entries),
        "peak_mib": round((peak - before) / 2**20, 1),
        "cases_in_memory": in_memory, "cases_set_aside": set_aside,
        "brought_back": getattr(chains, "brought_back", 0), "seconds": round(seconds, 1),
    }
    dump = projections.dump(["case_chains"])
    digest = hashlib.sha256(orjson.dumps(dump, option=orjson.OPT_SORT_KEYS)).hexdigest()
    projections.drop()
    return row, digest


def _verdicts(ledger: Ledger) -> list[str]:
    return [e.envelope["id"] for e in ledger.store.iter_entries(TENANT)
            if e.kind == ENTRY_KIND_DERIVED]


def main() -> None:
    rows: list[dict[str, Any]] = []
    same: dict[int, bool] = {}
    with tempfile.TemporaryDirectory() as home:
        for entries in SIZES:
            events = workload(TENANT, entries)
            verdicts: list[list[str]] = []
            chains: list[str] = []
            for cache_cases in CACHES:
                settings = _settings(Path(home))
                ledger = _build(settings)
                try:
                    for start in range(0, len(events), 2000):
                        ledger.record(events[start:start + 2000])
                    for phase in ("derive", "reload"):
                        rows.append(_measure(ledger, settings, cache_cases, phase, entries))
                        print(rows[-1], flush=True)
                    verdicts.append(_verdicts(ledger))
                    row, digest = _measure_chains(ledger, settings, cache_cases, entries)
                    rows.append(row)
                    print(rows[-1], flush=True)
                    chains.append(digest)
                finally:
                    ledger.store.close()
                    if settings.database_url:
                        _drop_store(settings.database_url, settings.store_name)
            same[entries] = (all(sorted(v) == sorted(verdicts[0]) for v in verdicts)
                             and len(set(chains)) == 1)
    _report(rows, same)
    if not all(same.values()):
        raise SystemExit("the case cache changed the verdicts or the chains")


def _report(rows: list[dict[str, Any]], same: dict[int, bool]) -> None:
    table = Table(title="engine and case-chains memory, one tenant (tracemalloc)")
    for name in ("entries", "case cache", "phase", "held MiB", "B/entry", "peak MiB",
                 "cases in memory", "set aside", "brought back", "s"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(f"{r['entries']:,}", "all" if r["cache_cases"] is None
                      else str(r["cache_cases"]), r["phase"], str(r["held_mib"]),
                      str(r["held_bytes_per_entry"]), str(r["peak_mib"]),
                      f"{r['cases_in_memory']:,}", f"{r['cases_set_aside']:,}",
                      f"{r['brought_back']:,}", str(r["seconds"]))
    Console(width=160).print(table)
    write_results("engine_memory", {
        "benchmark": "engine_memory", "backend": "postgres" if bench_database_url() else "sqlite",
        "rows": rows,
        "same_verdicts_and_chains_whatever_the_cache": {str(k): v for k, v in same.items()},
    })


if __name__ == "__main__":
    main()
