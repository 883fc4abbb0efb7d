"""A rebuild of all the views with the case-chains view's case cache at its default and off.

On the scale benchmark's 1M store (`bench_scale_1000000`, built by bench/bench_scale.py and
reused; skipped when it is not there), `Projections.from_settings(settings).rebuild()` as
`ledger projections rebuild` runs it, alternating LEDGER_BENCH_REBUILD_CACHES (default
20000,off: the settings' default, and a cache larger than the store), each rebuild in a
fresh process so that its children's peak RSS is its own. Reports seconds, entries per
second, busy seconds per view and the largest rebuild process's peak RSS.

Run alone: `python -m bench.bench_rebuild_cache`; writes bench/results/rebuild_cache.json.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from typing import Any

import orjson
import psycopg
from rich.console import Console
from rich.table import Table

from bench.common import bench_database_url, write_results
from ledger.config import Settings
from projections.runner import Projections

STORE = "bench_scale_1000000"
CACHES = os.environ.get("LEDGER_BENCH_REBUILD_CACHES", "20000,off").split(",")
ROUNDS = int(os.environ.get("LEDGER_BENCH_REBUILD_ROUNDS", "2"))
OFF = 10**9  # more cases than any store here holds


def rebuild_once(url: str, cache: str) -> dict[str, Any]:
    """In this process: one rebuild of every view of the store."""
    settings = Settings(database_url=url, store_name=STORE, db_pool_size=6,
                        projection_cache_cases=OFF if cache == "off" else int(cache))
    projections = Projections.from_settings(settings)
    try:
        started = time.perf_counter()
        processed = projections.rebuild()
        seconds = time.perf_counter() - started
    finally:
        projections.close()
    entries = max(processed.values())
    return {"cache": cache, "seconds": round(seconds, 1), "entries": entries,
            "entries_per_s": round(entries / seconds),
            "largest_process_rss_mib": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            "busy_seconds": {k: round(v, 1) for k, v in projections.busy.items()}}


def _store_exists(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                            (f"{STORE}_events",)).fetchone() == (True,)


def main() -> None:
    url = bench_database_url()
    if not url or not _store_exists(url):
        print(f"rebuild_cache: skipped (needs PostgreSQL and the scale bench's {STORE})")
        return
    runs = []
    for round_ in range(1, ROUNDS + 1):
        for cache in CACHES:
            out = subprocess.run(
                [sys.executable, "-m", "bench.bench_rebuild_cache", "--one", cache],
                check=True, capture_output=True, text=True,
                env={**os.environ, "LEDGER_BENCH_DATABASE_URL": url}).stdout
            runs.append({"round": round_, **orjson.loads(out.strip().splitlines()[-1])})
            print(runs[-1], flush=True)
    table = Table(title=f"rebuild of all views, {STORE}, case-chains case cache")
    for name in ("round", "case cache", "s", "entries/s", "case_chains busy s", "max RSS MiB"):
        table.add_column(name, justify="right")
    for r in runs:
        table.add_row(str(r["round"]), r["cache"], str(r["seconds"]),
                      f"{r['entries_per_s']:,}", str(r["busy_seconds"]["case_chains"]),
                      str(r["largest_process_rss_mib"]))
    Console(width=140).print(table)
    write_results("rebuild_cache", {"store": STORE, "runs": runs})


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(orjson.dumps(rebuild_once(os.environ["LEDGER_BENCH_DATABASE_URL"],
                                        sys.argv[2])).decode())
    else:
        main()
