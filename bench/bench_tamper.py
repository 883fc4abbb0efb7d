"""Tamper evidence: what hashing and signing cost at ingest, and how fast a store verifies.

1. Ingest through `Ledger.record` (validation, idempotency, one transaction per batch of
   500) of the same realistic events, three ways, each on a fresh store, alternated over
   five rounds (best of five, the machine being shared):
   - no hashing: digest and chain hash replaced by constants (what the ledger would cost
     without tamper evidence);
   - hash chain: as recorded by default (RFC 8785 digest + chained SHA-256);
   - hash chain + signed checkpoints every 1000 entries (Ed25519, RFC 9162 root).
   Beside them, the hashing alone per event, with no store.
2. Verification: >= 1M entries of one tenant are bulk-loaded (entries built by the real
   decide_appends, checkpoints by the real Sealer every 1000), then `verify_store` reads
   and re-derives all of it: events/s.

PostgreSQL when LEDGER_BENCH_DATABASE_URL is set (as `make bench` does), else SQLite.
Sizes: LEDGER_BENCH_TAMPER_INGEST (default 20000), LEDGER_BENCH_TAMPER_EVENTS (1000000).
Run alone: `python -m bench.bench_tamper`; writes bench/results/tamper.json.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql
from rich.console import Console
from rich.table import Table

import ledger.domain.envelope as envelope_module
import ledger.domain.recording as recording_module
from bench.common import bench_database_url, write_results
from bench.workload import case_events, workload
from ledger.adapters.clock import system_clock
from ledger.adapters.signing import Signer
from ledger.adapters.store import EventStore
from ledger.adapters.validation import EventValidator
from ledger.application.handed_out import root_of_prefix
from ledger.application.recording import Ledger
from ledger.application.sealing import Sealer
from ledger.application.verification import verify_store
from ledger.config import Settings
from ledger.domain.chain import GENESIS_HASH, entry_hash
from ledger.domain.checkpoint import entry_leaf_hash
from ledger.domain.envelope import Envelope, content_digest
from ledger.domain.events import EntryRecorded, ledger_stream_id
from ledger.domain.recording import LedgerHead, Outcome, decide_appends

INGEST = int(os.environ.get("LEDGER_BENCH_TAMPER_INGEST", "20000"))
VERIFY = int(os.environ.get("LEDGER_BENCH_TAMPER_EVENTS", "1000000"))
BATCH = 500
CHECKPOINT_EVERY = 1000
TENANT = "bench"
console = Console()


# --- stores ---------------------------------------------------------------------------


@contextmanager
def fresh_store() -> Iterator[Settings]:
    """An empty store on the bench backend, dropped afterwards."""
    url = bench_database_url()
    if url is None:
        with tempfile.TemporaryDirectory(prefix="bench-tamper-") as folder:
            yield Settings(home=Path(folder), database_url=None)
        return
    name = f"bench_t_{uuid.uuid4().hex[:8]}"
    try:
        yield Settings(database_url=url, store_name=name, db_pool_size=2)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for suffix in ("events", "tracking"):
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier(f"{name}_{suffix}")))


@contextmanager
def without_hashing() -> Iterator[None]:
    """Digest and chain hash become constants: the ledger minus its tamper evidence.

    Patched where they are looked up (the envelope and recording modules' namespaces).
    """
    patched = ((vars(envelope_module), "content_digest", lambda value: GENESIS_HASH),
               (vars(recording_module), "chain_hashes",
                lambda prev, first, digests: [GENESIS_HASH] * len(digests)))
    saved = [(namespace, name, namespace[name]) for namespace, name, _ in patched]
    for namespace, name, constant in patched:
        namespace[name] = constant
    try:
        yield
    finally:
        for namespace, name, original in saved:
            namespace[name] = original


# --- 1. ingest ----------------------------------------------------------------------


@dataclass(slots=True)
class _Run:
    wall: float  # seconds to record all events
    cpu: float  # this process's CPU seconds for it
    sealing: float = 0.0  # wall seconds spent inside the sealer's append hook


def _ingest_once(events: list[dict[str, Any]], variant: str, signer: Signer) -> _Run:
    with fresh_store() as settings:
        store = EventStore(settings)
        ledger = Ledger(store, EventValidator(), system_clock)
        run = _Run(0.0, 0.0)
        if variant == "hash_chain_and_checkpoints":
            sealer = Sealer(store, signer, system_clock, CHECKPOINT_EVERY, timedelta(hours=1))

            def timed_hook(outcomes: Sequence[Outcome], committed: Sequence[object]) -> None:
                started = time.perf_counter()
                sealer.after_append(outcomes, committed)
                run.sealing += time.perf_counter() - started

            ledger.after_append.append(timed_hook)
        wall, cpu = time.perf_counter(), time.process_time()
        with without_hashing() if variant == "no_hashing" else _nothing():
            for i in range(0, len(events), BATCH):
                ledger.record(events[i : i + BATCH])
        run.wall, run.cpu = time.perf_counter() - wall, time.process_time() - cpu
        if variant == "hash_chain_and_checkpoints":
            assert store.latest_checkpoint(TENANT) is not None
        store.close()
    return run


@contextmanager
def _nothing() -> Iterator[None]:
    yield


VARIANTS = ("no_hashing", "hash_chain", "hash_chain_and_checkpoints")


def ingest_rates(signer: Signer, rounds: int = 5) -> dict[str, Any]:
    """Best of `rounds` alternated runs, and the overheads measured two ways.

    A/B: each variant's time against the no-hashing one (wall, and this process's CPU).
    On a shared machine run-to-run noise is of the same order as the effect, so the
    direct figures are given too: the time spent inside the hashing functions and inside
    the sealer hook, as a share of the per-event ingest time of the same runs.
    """
    events = workload(TENANT, INGEST)
    runs: dict[str, list[_Run]] = {v: [] for v in VARIANTS}
    for round_ in range(rounds):
        for variant in VARIANTS:
            run = _ingest_once(events, variant, signer)
            runs[variant].append(run)
            console.print(f"  ingest round {round_ + 1} {variant}: {INGEST / run.wall:,.0f} "
                          f"events/s, {run.cpu / INGEST * 1e6:,.0f} µs CPU/event")
    wall = {v: min(r.wall for r in runs[v]) for v in VARIANTS}
    cpu = {v: min(r.cpu for r in runs[v]) for v in VARIANTS}
    hashing = _hashing_alone(events)
    per_event = {v: wall[v] / INGEST * 1e6 for v in VARIANTS}
    sealing = statistics.median(r.sealing for r in runs["hash_chain_and_checkpoints"])
    sealing_us = sealing / INGEST * 1e6
    hashing_us = hashing["rfc8785_digest"] + hashing["chain_hash"]

    def overhead(times: dict[str, float], variant: str) -> float:
        return round(times[variant] / times["no_hashing"] - 1, 4)

    return {
        "events": INGEST,
        "batch": BATCH,
        "rounds": rounds,
        "events_per_s": {v: round(INGEST / wall[v]) for v in VARIANTS},
        "wall_us_per_event": {v: round(per_event[v], 1) for v in VARIANTS},
        "cpu_us_per_event": {v: round(cpu[v] / INGEST * 1e6, 1) for v in VARIANTS},
        "ab_overhead_wall": {v: overhead(wall, v) for v in VARIANTS[1:]},
        "ab_overhead_cpu": {v: overhead(cpu, v) for v in VARIANTS[1:]},
        "rate_ratio_hash_chain_over_no_hashing": round(wall["no_hashing"] / wall["hash_chain"], 4),
        "hashing_alone_us_per_event": hashing,
        "sealer_hook_us_per_event": round(sealing_us, 1),
        "direct_share": {
            "hash_chain": round(hashing_us / per_event["hash_chain"], 4),
            "checkpoints": round(sealing_us / per_event["hash_chain_and_checkpoints"], 4),
        },
    }


def _hashing_alone(events: list[dict[str, Any]]) -> dict[str, float]:
    """Microseconds per event of each hash, with no store: where the overhead comes from."""
    sample = events[:10000]

    def per_event(fn: Callable[[], object]) -> float:
        started = time.perf_counter()
        fn()
        return round((time.perf_counter() - started) / len(sample) * 1e6, 2)

    digests = [content_digest(e) for e in sample]
    entries: list[EntryRecorded] = []
    head = LedgerHead(TENANT)
    validator = EventValidator()
    wrapped = [(i, Envelope.from_validated(e, validator.stream_key(e))) for i, e in
               enumerate(sample)]
    decision = decide_appends(head, wrapped, {}, system_clock())
    entries = [e for e in decision.events if isinstance(e, EntryRecorded)]
    return {
        "rfc8785_digest": per_event(lambda: [content_digest(e) for e in sample]),
        "chain_hash": per_event(
            lambda: [entry_hash(GENESIS_HASH, i + 1, d) for i, d in enumerate(digests)]),
        "merkle_leaf": per_event(lambda: [entry_leaf_hash(e) for e in entries]),
    }


# --- 2. verification ----------------------------------------------------------------


def bulk_load(store: EventStore, signer: Signer, count: int) -> float:
    """`count` entries in batches of CHECKPOINT_EVERY, each sealed by the append hook; /s.

    Skips validation and receipts (verification reads neither) but builds every entry
    with the real decide_appends and signs through the real Sealer hook.
    """
    validator = EventValidator()
    sealer = Sealer(store, signer, system_clock, CHECKPOINT_EVERY, timedelta(hours=1))
    head = LedgerHead(TENANT)
    source = case_events(TENANT, count)
    started = time.perf_counter()
    loaded = 0
    while loaded < count:
        batch = []
        for index, event in zip(range(CHECKPOINT_EVERY), source, strict=False):
            batch.append((index, Envelope.from_validated(event, validator.stream_key(event))))
        if not batch:
            break
        decision = decide_appends(head, batch, {}, system_clock())
        entries = [e for e in decision.events if isinstance(e, EntryRecorded)]
        store.append(entries)
        head = decision.head
        sealer.after_append(decision.outcomes, entries)
        loaded += len(batch)
        if loaded % 100_000 == 0:
            rate = loaded / (time.perf_counter() - started)
            console.print(f"  loaded {loaded:,} entries ({rate:,.0f}/s)")
    return loaded / (time.perf_counter() - started)


def verification_rate(signer: Signer) -> dict[str, Any]:
    with fresh_store() as settings:
        store = EventStore(settings)
        load_rate = bulk_load(store, signer, VERIFY)
        checked = 0

        def progress(n: int) -> None:
            nonlocal checked
            checked += n

        raw_rate = raw_read_rate(settings)
        started = time.perf_counter()
        report = verify_store(store, {signer.key_id: signer.public_key}, TENANT, progress)
        elapsed = time.perf_counter() - started
        latest = store.latest_checkpoint(TENANT)
        assert latest is not None
        started = time.perf_counter()
        assert root_of_prefix(store, TENANT, latest.tree_size) == bytes.fromhex(latest.root_hash)
        prefix_elapsed = time.perf_counter() - started
        store.close()
    (tenant,) = report.tenants
    assert report.ok and tenant.entries == VERIFY, [p.message for p in tenant.problems[:5]]
    return {
        "entries": tenant.entries,
        "checkpoints": tenant.checkpoints,
        "seconds": round(elapsed, 1),
        "events_per_s": round(tenant.entries / elapsed),
        "raw_read_rows_per_s": round(raw_rate),
        "verify_over_raw_read": round(tenant.entries / elapsed / raw_rate, 4),
        "handed_out_check_events_per_s": round(latest.tree_size / prefix_elapsed),
        "bulk_load_events_per_s": round(load_rate),
    }


def raw_read_rate(settings: Settings) -> float:
    """Rows/s of the tenant's entries read raw, the ceiling any verification is held to:
    PostgreSQL `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, SQLite a plain SELECT."""
    stream = str(ledger_stream_id(TENANT))
    started = time.perf_counter()
    rows = 0
    if settings.database_url is None:
        import sqlite3

        with sqlite3.connect(settings.sqlite_path) as conn:
            for _ in conn.execute("SELECT originator_version, state FROM stored_events "
                                  "WHERE originator_id = ? ORDER BY originator_version",
                                  (stream,)):
                rows += 1
    else:
        query = sql.SQL("COPY (SELECT originator_version, state FROM {} WHERE originator_id "
                        "= {} ORDER BY originator_version) TO STDOUT (FORMAT binary)").format(
            sql.Identifier(f"{settings.store_name}_events"), sql.Literal(stream))
        with psycopg.connect(settings.database_url) as conn, conn.cursor() as cur, \
                cur.copy(query) as copy:
            for _block in copy:  # binary rows are not split here: the count is known
                pass
        rows = VERIFY
    return rows / (time.perf_counter() - started)


def main() -> None:
    backend = "postgres" if bench_database_url() else "sqlite"
    signer = Signer("bench", Ed25519PrivateKey.generate())
    console.print(f"tamper evidence bench on {backend}: ingest {INGEST}, verify {VERIFY}")
    results: dict[str, Any] = {"backend": backend, "ingest": ingest_rates(signer)}
    results["verification"] = verification_rate(signer)
    ingest, verification = results["ingest"], results["verification"]
    table = Table(title=f"tamper evidence on {backend}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for variant, rate in ingest["events_per_s"].items():
        table.add_row(f"ingest events/s, {variant}", f"{rate:,}")
        table.add_row(f"ingest CPU µs/event, {variant}", f"{ingest['cpu_us_per_event'][variant]}")
    for variant in VARIANTS[1:]:
        table.add_row(f"A/B overhead vs no hashing, {variant} (wall / CPU)",
                      f"{ingest['ab_overhead_wall'][variant]:+.1%} / "
                      f"{ingest['ab_overhead_cpu'][variant]:+.1%}")
    table.add_row("sealer hook, µs/event", f"{ingest['sealer_hook_us_per_event']}")
    for what, share in ingest["direct_share"].items():
        table.add_row(f"direct share of ingest time, {what}", f"{share:.1%}")
    for what, micros in ingest["hashing_alone_us_per_event"].items():
        table.add_row(f"{what} alone, µs/event", f"{micros}")
    table.add_row(f"verify events/s over {verification['entries']:,}",
                  f"{verification['events_per_s']:,}")
    table.add_row("raw read rows/s (the ceiling)", f"{verification['raw_read_rows_per_s']:,}")
    table.add_row("verify / raw read", f"{verification['verify_over_raw_read']:.1%}")
    table.add_row("handed-out checkpoint check, events/s",
                  f"{verification['handed_out_check_events_per_s']:,}")
    table.add_row("bulk load events/s (entries + checkpoints)",
                  f"{verification['bulk_load_events_per_s']:,}")
    console.print(table)
    write_results("tamper", results)


if __name__ == "__main__":
    main()
