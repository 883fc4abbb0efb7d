"""`ledger ingest` rate for 100k realistic events, on SQLite and on PostgreSQL.

Measures the file ingest path end to end (parse, validate, idempotency look-up, hash
chain, one transaction per batch), then the same file again (all duplicates), and beside
them the cost of validation alone, the part that does not touch the store.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from bench.common import bench_database_url, timed, write_results
from bench.workload import workload
from cli.root import build_ledger
from ledger.adapters.validation import default_validator
from ledger.application.file_ingest import ingest_file
from ledger.config import Settings

EVENTS = int(os.environ.get("LEDGER_BENCH_INGEST_EVENTS", "100000"))


def _ingest(settings: Settings, path: Path) -> dict[str, Any]:
    ledger = build_ledger(settings)
    first, seconds = timed(lambda: ingest_file(ledger, path, settings.ingest_batch_size))
    again, seconds_again = timed(lambda: ingest_file(ledger, path, settings.ingest_batch_size))
    ledger.store.close()
    assert first.counts["recorded"] == EVENTS, first.counts
    assert again.counts["duplicate"] == EVENTS, again.counts
    return {"events": EVENTS, "seconds": round(seconds, 2), "events_per_s": round(EVENTS / seconds),
            "redelivery_seconds": round(seconds_again, 2),
            "redelivery_events_per_s": round(EVENTS / seconds_again)}


def main() -> None:
    console = Console()
    events = workload("bench", EVENTS)
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    path = folder / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    validator = default_validator()
    _, validate_s = timed(lambda: [validator.validate(e) for e in events])
    results: dict[str, Any] = {"validation_only": {"events_per_s": round(EVENTS / validate_s)}}
    results["sqlite"] = _ingest(Settings(home=folder / "var", database_url=None), path)
    url = bench_database_url()
    if url:
        store = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            results["postgres"] = _ingest(Settings(database_url=url, store_name=store), path)
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                for suffix in ("events", "tracking"):
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(
                        sql.Identifier(f"{store}_{suffix}")))
    table = Table(title=f"ledger ingest of {EVENTS} events (batch 500)")
    for column in ("path", "events/s", "seconds", "redelivery events/s"):
        table.add_column(column, justify="right")
    table.add_row("validation only", str(results["validation_only"]["events_per_s"]), "", "")
    for backend in ("sqlite", "postgres"):
        if backend in results:
            r = results[backend]
            table.add_row(backend, str(r["events_per_s"]), str(r["seconds"]),
                          str(r["redelivery_events_per_s"]))
    console.print(table)
    write_results("ingest", results)


if __name__ == "__main__":
    main()
