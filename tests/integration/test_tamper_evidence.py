"""Tamper evidence, on SQLite and on the real PostgreSQL.

The attacker here has write access to the database: each test edits the store's rows
directly (sqlite3 / psycopg, never through the ledger) and expects `ledger verify` to
find the damage and name the first bad position.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql
from typer.testing import CliRunner

from cli.main import app
from ledger.adapters.signing import Signer
from ledger.application.evidence import Prover
from ledger.application.evidence_check import verify_bundle, verify_consistency_json
from ledger.application.recording import Ledger
from ledger.application.sealing import LedgerDamagedError, Sealer
from ledger.application.verification import verify_store
from ledger.application.verification_report import StoreReport, TenantReport
from ledger.config import Settings
from ledger.domain.chain import entry_hash
from ledger.domain.checkpoint import checkpoint_stream_id
from ledger.domain.envelope import content_digest
from ledger.domain.events import ledger_stream_id
from ledger.domain.recording import Status
from tests.support.clock import FixedClock
from tests.support.envelopes import envelope

REPO = Path(__file__).resolve().parents[2]
EVERY = 10


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture
def signer() -> Signer:
    return Signer("test-key", Ed25519PrivateKey.generate())


@pytest.fixture
def keys(signer: Signer) -> dict[str, Any]:
    return {signer.key_id: signer.public_key}


@pytest.fixture
def sealer(ledger: Ledger, signer: Signer, clock: FixedClock) -> Sealer:
    """The ledger signs a checkpoint every EVERY entries (and at its first append)."""
    sealer = Sealer(ledger.store, signer, clock, EVERY, timedelta(minutes=5))
    ledger.after_append.append(sealer.after_append)
    return sealer


def fill(ledger: Ledger, count: int, *, tenant: str = "acme", batch: int = 5,
         start: int = 0, subject: str = "SO-1001") -> None:
    for first in range(start, start + count, batch):
        items = [envelope(f"e{i}", tenant=tenant, subject=subject)
                 for i in range(first, min(first + batch, start + count))]
        assert {o.status for o in ledger.record(items)} == {Status.RECORDED}


@pytest.fixture
def store25(ledger: Ledger, sealer: Sealer) -> Ledger:
    """25 entries of tenant acme, checkpoints at 5, 15 and 25 (batches of 5)."""
    fill(ledger, 25)
    assert [c.tree_size for c in ledger.store.checkpoints("acme")] == [5, 15, 25]
    return ledger


class Rows:
    """The store's events table, as someone with database access sees it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _run(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        if self.settings.database_url is None:
            with sqlite3.connect(self.settings.sqlite_path) as conn:
                rows = conn.execute(statement.format(table="stored_events"), [
                    p.hex if isinstance(p, UUID) else p for p in params
                ]).fetchall()
            conn.close()
            return rows
        table = sql.Identifier(f"{self.settings.store_name}_events")
        query = sql.SQL(statement.replace("?", "%s")).format(table=table)
        with psycopg.connect(self.settings.database_url, autocommit=True) as pg:
            cur = pg.execute(query, params)
            return cur.fetchall() if cur.description else []

    def state(self, stream: UUID, version: int) -> bytes:
        (row,) = self._run(
            "SELECT state FROM {table} WHERE originator_id = ? AND originator_version = ?",
            (stream, version),
        )
        return bytes(row[0])

    def set_state(self, stream: UUID, version: int, state: bytes) -> None:
        self._run(
            "UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = ?",
            (state, stream, version),
        )

    def delete(self, stream: UUID, version: int, *, and_after: bool = False) -> None:
        op = ">=" if and_after else "="
        self._run(
            f"DELETE FROM {{table}} WHERE originator_id = ? AND originator_version {op} ?",
            (stream, version),
        )

    def edit(self, stream: UUID, version: int, change: Callable[[dict[str, Any]], None]) -> None:
        state = orjson.loads(self.state(stream, version))
        change(state)
        self.set_state(stream, version, orjson.dumps(state))


@pytest.fixture
def rows(settings: Settings) -> Rows:
    return Rows(settings)


ACME = ledger_stream_id("acme")
ACME_CHECKPOINTS = checkpoint_stream_id("acme")


def verified(ledger: Ledger, keys: dict[str, Any], tenant: str | None = None) -> StoreReport:
    return verify_store(ledger.store, keys, tenant)


def acme(report: StoreReport) -> TenantReport:
    (found,) = [t for t in report.tenants if t.tenant == "acme"]
    return found


def cli_verify(settings: Settings, signer: Signer, tmp_path: Path) -> tuple[int, str]:
    """`ledger verify --public-key FILE` on this store, in process; (exit code, output)."""
    pub = tmp_path / "ledger.pub"
    pub.write_bytes(signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    result = CliRunner().invoke(
        app, ["verify", "--public-key", f"{signer.key_id}={pub}"], env=store_env(settings)
    )
    return result.exit_code, " ".join(result.output.split())


def store_env(settings: Settings) -> dict[str, str]:
    env = {"LEDGER_HOME": str(settings.home), "LEDGER_STORE_NAME": settings.store_name,
           "COLUMNS": "200"}
    env["LEDGER_DATABASE_URL"] = settings.database_url or ""
    return env


# --- an untouched store ---------------------------------------------------------------


def test_an_untouched_store_verifies(
    store25: Ledger, keys: dict[str, Any], settings: Settings, signer: Signer, tmp_path: Path
) -> None:
    report = verified(store25, keys)
    assert report.ok, [p.message for t in report.tenants for p in t.problems]
    assert (acme(report).entries, acme(report).checkpoints, acme(report).sealed) == (25, 3, 25)
    code, output = cli_verify(settings, signer, tmp_path)
    assert code == 0, output
    assert "acme" in output and "TAMPERED" not in output


def test_checkpoints_are_written_in_the_append_path_every_n_entries(
    ledger: Ledger, sealer: Sealer
) -> None:
    fill(ledger, 3, batch=3)
    assert [c.tree_size for c in ledger.store.checkpoints("acme")] == [3], "first append"
    fill(ledger, 9, batch=3, start=3)
    assert [c.tree_size for c in ledger.store.checkpoints("acme")] == [3], "9 new < 10"
    fill(ledger, 1, batch=1, start=12)
    assert [c.tree_size for c in ledger.store.checkpoints("acme")] == [3, 13], "10 new"


def test_a_quiet_tenant_gets_its_checkpoint_after_the_interval(
    ledger: Ledger, sealer: Sealer, clock: FixedClock
) -> None:
    fill(ledger, 1, batch=1)
    fill(ledger, 2, batch=2, start=1)
    assert [c.tree_size for c in ledger.store.checkpoints("acme")] == [1]
    clock.advance(timedelta(minutes=6))
    fill(ledger, 1, tenant="globex", batch=1)  # any append lets the sealer catch up
    assert [c.tree_size for c in ledger.store.checkpoints("acme")] == [1, 3]
    assert ledger.store.checkpoints("acme")[-1].timestamp == clock.now


def test_derived_entries_are_sealed_like_inbound_ones(ledger: Ledger, sealer: Sealer) -> None:
    fill(ledger, 1, batch=1)
    derived = envelope("v-1", source="ledger/responsibility")
    derived["type"] = "violation.flagged"
    derived["data"] = {"violation_id": "v-1", "event_id": "e0", "employee_id": "e-li",
                       "policy_id": "p", "policy_version": 1, "severity": "major",
                       "supervisor_id": "e-zhang", "review_due": "2026-03-03T10:00:00+08:00"}
    ledger.record_derived([derived], None)
    sealer.seal("acme")
    assert ledger.store.latest_checkpoint("acme").tree_size == 2  # type: ignore[union-attr]


def test_recording_behaves_the_same_with_sealing(ledger: Ledger, sealer: Sealer) -> None:
    outcomes = ledger.record([envelope("a"), envelope("a"), envelope("a", payload={})])
    assert [o.status.value for o in outcomes] == ["recorded", "duplicate", "rejected"]
    assert outcomes[0].position == 1


# --- tampering, each found at its position ---------------------------------------------


def test_one_changed_byte_of_a_payload_is_found_at_its_position(
    store25: Ledger, keys: dict[str, Any], rows: Rows, settings: Settings, signer: Signer,
    tmp_path: Path,
) -> None:
    state = rows.state(ACME, 7)
    assert state.count(b'"return_days":7') == 1
    rows.set_state(ACME, 7, state.replace(b'"return_days":7', b'"return_days":8'))
    first = acme(verified(store25, keys)).first_problem
    assert first is not None and (first.position, first.kind) == (7, "digest")
    code, output = cli_verify(settings, signer, tmp_path)
    assert code == 1
    assert "first bad position 7" in output and "envelope was altered" in output


def test_a_deleted_row_is_found_at_its_position(
    store25: Ledger, keys: dict[str, Any], rows: Rows
) -> None:
    rows.delete(ACME, 12)
    first = acme(verified(store25, keys)).first_problem
    assert first is not None and (first.position, first.kind) == (12, "missing")
    assert "position 12 is missing" in first.message


def test_two_swapped_rows_are_found_at_the_first_of_them(
    store25: Ledger, keys: dict[str, Any], rows: Rows
) -> None:
    """Each swapped row is self-consistent; its position, hashed into it, betrays it."""
    four, nine = rows.state(ACME, 4), rows.state(ACME, 9)
    rows.set_state(ACME, 4, nine)
    rows.set_state(ACME, 9, four)
    report = acme(verified(store25, keys))
    assert report.first_problem is not None and report.first_problem.position == 4
    assert {p.position for p in report.problems if p.kind == "entry-hash"} == {4, 9}


def test_a_cut_off_tail_is_found_by_the_latest_checkpoint(
    store25: Ledger, keys: dict[str, Any], rows: Rows, settings: Settings, signer: Signer,
    tmp_path: Path,
) -> None:
    rows.delete(ACME, 21, and_after=True)
    report = acme(verified(store25, keys))
    first = report.first_problem
    assert first is not None and (first.position, first.kind) == (21, "truncated")
    assert first.checkpoint == 3 and "21..25 were removed" in first.message
    code, output = cli_verify(settings, signer, tmp_path)
    assert code == 1 and "first bad position 21" in output


def test_a_forged_checkpoint_signature_is_found(
    store25: Ledger, keys: dict[str, Any], rows: Rows
) -> None:
    forger = Signer("test-key", Ed25519PrivateKey.generate())

    def forge(state: dict[str, Any]) -> None:
        state["signature"] = forger.sign(b"whatever the attacker likes")

    rows.edit(ACME_CHECKPOINTS, 2, forge)
    first = acme(verified(store25, keys)).first_problem
    assert first is not None and (first.kind, first.checkpoint, first.position) == (
        "signature", 2, 6
    ), first
    assert "does not verify" in first.message


def test_a_checkpoint_re_signed_with_the_attackers_own_key_is_found(
    store25: Ledger, keys: dict[str, Any], rows: Rows
) -> None:
    """Rewrite history and sign it anew: the verifier does not trust the attacker's key."""
    attacker = Signer("attacker", Ed25519PrivateKey.generate())
    checkpoint = store25.store.checkpoints("acme")[2]
    body = checkpoint.body()

    def resign(state: dict[str, Any]) -> None:
        state["key_id"] = attacker.key_id
        state["signature"] = attacker.sign(
            type(body)(body.tenant, body.tree_size, body.root_hash, body.timestamp,
                       attacker.key_id).canonical())

    rows.edit(ACME_CHECKPOINTS, 3, resign)
    problems = acme(verified(store25, keys)).problems
    assert [(p.kind, p.checkpoint) for p in problems] == [("signature", 3)]
    assert "unknown key 'attacker'" in problems[0].message


def rewrite_from(rows: Rows, position: int, last: int) -> None:
    """Change entry `position` and recompute every hash after it: a consistent chain."""
    prev: str | None = None
    for p in range(position, last + 1):
        state = orjson.loads(rows.state(ACME, p))
        if p == position:
            state["envelope"]["data"]["payload"]["return_days"] = 3
        state["digest"] = content_digest(state["envelope"])
        state["prev_hash"] = prev or state["prev_hash"]
        state["entry_hash"] = entry_hash(state["prev_hash"], p, state["digest"])
        prev = state["entry_hash"]
        rows.set_state(ACME, p, orjson.dumps(state))


def test_a_consistently_rewritten_chain_is_caught_by_the_signed_root(
    store25: Ledger, keys: dict[str, Any], rows: Rows, sealer: Sealer
) -> None:
    rewrite_from(rows, 8, 25)
    report = acme(verified(store25, keys))
    assert {p.kind for p in report.problems} == {"root"}, "the chain itself is consistent"
    first = report.first_problem
    assert first is not None and (first.position, first.checkpoint) == (6, 2)
    assert "positions 6..15" in first.message
    fill(store25, 1, batch=1, start=100)
    with pytest.raises(LedgerDamagedError, match="refusing to sign"):
        Sealer(store25.store, sealer.signer, sealer.clock, 1, sealer.interval).seal("acme")


def test_an_edited_recording_time_is_caught_by_the_signed_root(
    store25: Ledger, keys: dict[str, Any], rows: Rows
) -> None:
    def backdate(state: dict[str, Any]) -> None:
        state["timestamp"] = "2020-01-01T00:00:00+00:00"

    rows.edit(ACME, 18, backdate)
    first = acme(verified(store25, keys)).first_problem
    assert first is not None and (first.kind, first.position, first.checkpoint) == ("root", 16, 3)


def test_an_unreadable_row_is_reported_not_crashed_on(
    store25: Ledger, keys: dict[str, Any], rows: Rows
) -> None:
    rows.set_state(ACME, 3, rows.state(ACME, 3)[:-5])
    first = acme(verified(store25, keys)).first_problem
    assert first is not None and (first.position, first.kind) == (3, "unreadable")


def test_damage_in_one_tenant_leaves_the_others_verified(
    store25: Ledger, keys: dict[str, Any], rows: Rows
) -> None:
    fill(store25, 5, tenant="globex")
    rows.delete(ACME, 2)
    report = verified(store25, keys)
    assert [t.tenant for t in report.tenants] == ["acme", "globex"]
    assert not acme(report).ok
    assert report.tenants[1].ok and report.tenants[1].checkpoints == 1


def test_the_command_line_entry_point_exits_non_zero_on_tampering(
    store25: Ledger, rows: Rows, settings: Settings, signer: Signer, tmp_path: Path
) -> None:
    rows.delete(ACME, 12)
    pub = tmp_path / "ledger.pub"
    pub.write_bytes(signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    env = {**os.environ, **store_env(settings)}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "verify", "--public-key", f"test-key={pub}"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "first bad position 12" in " ".join(done.stdout.split())


# --- proofs, checked offline ---------------------------------------------------------


def test_a_proof_bundle_verifies_offline_with_only_the_public_key(
    store25: Ledger, signer: Signer
) -> None:
    entries = store25.store.entries("acme")
    bundle = orjson.loads(orjson.dumps(Prover(store25.store).bundle("acme", entries[3:9])))
    report = verify_bundle(bundle, {signer.key_id: signer.public_key})
    assert report.ok, report
    assert [e.position for e in report.entries] == list(range(4, 10))


def test_an_altered_bundle_does_not_verify(store25: Ledger, signer: Signer) -> None:
    keys = {signer.key_id: signer.public_key}
    fresh = Prover(store25.store).bundle("acme", store25.store.entries("acme")[:2])
    edited = orjson.loads(orjson.dumps(fresh))
    edited["entries"][1]["envelope"]["data"]["payload"]["return_days"] = 2
    assert [e.ok for e in verify_bundle(edited, keys).entries] == [True, False]
    moved = orjson.loads(orjson.dumps(fresh))
    moved["entries"][0]["recorded_at"] = "2026-01-01T00:00:00.000000Z"
    assert not verify_bundle(moved, keys).entries[0].ok
    forged = orjson.loads(orjson.dumps(fresh))
    forged["checkpoint"]["tree_size"] = 24
    assert verify_bundle(forged, keys).checkpoint_problem is not None
    other_key = Signer("test-key", Ed25519PrivateKey.generate())
    assert not verify_bundle(fresh, {"test-key": other_key.public_key}).ok


def test_proofs_round_trip_through_export_and_verify_evidence(
    store25: Ledger, sealer: Sealer, settings: Settings, signer: Signer, tmp_path: Path
) -> None:
    fill(store25, 3, subject="SO-2002", start=50, batch=3)
    sealer.seal("acme")  # 3 < EVERY new entries: sign now rather than wait
    pub = tmp_path / "ledger.pub"
    pub.write_bytes(signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    bundle_path = tmp_path / "so-2002.proofs.json"
    runner = CliRunner()
    exported = runner.invoke(app, ["proofs", "export", str(bundle_path), "--tenant", "acme",
                                   "--case", "SO-2002"], env=store_env(settings))
    assert exported.exit_code == 0, exported.output
    bundle = orjson.loads(bundle_path.read_bytes())
    assert [e["envelope"]["id"] for e in bundle["entries"]] == ["e50", "e51", "e52"]
    checked = runner.invoke(app, ["verify-evidence", str(bundle_path), "--public-key",
                                  f"test-key={pub}"], env={"COLUMNS": "200"})
    assert checked.exit_code == 0, checked.output
    bundle["entries"][0]["envelope"]["data"]["actor_id"] = "e-zhang"
    bundle_path.write_bytes(orjson.dumps(bundle))
    refused = runner.invoke(app, ["verify-evidence", str(bundle_path), "--public-key",
                                  f"test-key={pub}"], env={"COLUMNS": "200"})
    assert refused.exit_code == 1
    assert "envelope was altered" in " ".join(refused.output.split())


def test_every_checkpoint_is_provably_a_prefix_of_the_latest(
    store25: Ledger, signer: Signer
) -> None:
    keys = {signer.key_id: signer.public_key}
    prover = Prover(store25.store)
    for first in (5, 15, 25):
        document = orjson.loads(orjson.dumps(prover.consistency("acme", first)))
        assert verify_consistency_json(document, keys) is None
    swapped = prover.consistency("acme", 5)
    swapped["from"], swapped["to"] = swapped["to"], swapped["from"]
    assert verify_consistency_json(swapped, keys) is not None


@pytest.fixture
def big(ledger: Ledger, signer: Signer, clock: FixedClock) -> Iterator[Ledger]:
    """A tenant spanning several 256-leaf tiles, sealed every 100 entries."""
    sealer = Sealer(ledger.store, signer, clock, 100, timedelta(hours=1))
    ledger.after_append.append(sealer.after_append)
    fill(ledger, 700, batch=100)
    yield ledger


def test_proofs_span_tiles_in_a_bigger_ledger(big: Ledger, signer: Signer) -> None:
    keys = {signer.key_id: signer.public_key}
    checkpoints = big.store.checkpoints("acme")
    assert [c.tree_size for c in checkpoints] == [100, 200, 300, 400, 500, 600, 700]
    assert sum(len(c.tiles) for c in checkpoints) == 700 // 256
    picked = [e for e in big.store.entries("acme") if e.position in (1, 255, 256, 257, 600, 700)]
    assert verify_bundle(Prover(big.store).bundle("acme", picked), keys).ok
    assert verify_store(big.store, keys).ok
    for first in (100, 300, 500):
        assert verify_consistency_json(Prover(big.store).consistency("acme", first), keys) is None


def test_tampered_tile_roots_are_found_and_never_yield_a_bad_proof(
    big: Ledger, signer: Signer, rows: Rows
) -> None:
    from ledger.application.evidence import StoreDamagedError

    def corrupt(state: dict[str, Any]) -> None:
        state["tiles"] = ["00" * 32]

    rows.edit(ACME_CHECKPOINTS, 3, corrupt)  # the checkpoint that completed tile 0
    keys = {signer.key_id: signer.public_key}
    problems = acme(verify_store(big.store, keys)).problems
    assert [(p.kind, p.checkpoint) for p in problems] == [("tiles", 3)]
    inside_tile_0 = big.store.entries("acme", after=9, limit=1)
    assert verify_bundle(Prover(big.store).bundle("acme", inside_tile_0), keys).ok, (
        "a leaf of tile 0 is proven from tile 0's leaves, not from its stored root"
    )
    beyond = big.store.entries("acme", after=299, limit=1)
    with pytest.raises(StoreDamagedError):
        Prover(big.store).bundle("acme", beyond)


def test_concurrent_writers_seal_one_contiguous_checkpoint_stream(
    make_ledger: Callable[[], Ledger], signer: Signer, clock: FixedClock
) -> None:
    import threading

    writers = []
    for _ in range(3):
        writer = make_ledger()
        writer.after_append.append(Sealer(writer.store, signer, clock, 7, timedelta(hours=1))
                                   .after_append)
        writers.append(writer)

    def run(i: int) -> None:
        for b in range(6):
            writers[i].record([envelope(f"w{i}-{b}-{k}") for k in range(4)])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checkpoints = writers[0].store.checkpoints("acme")
    assert [c.sequence for c in checkpoints] == list(range(1, len(checkpoints) + 1))
    sizes = [c.tree_size for c in checkpoints]
    assert sizes == sorted(set(sizes))
    assert verify_store(writers[0].store, {signer.key_id: signer.public_key}).ok


# --- the commands around keys and checkpoints ------------------------------------------


def test_keys_generate_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["keys", "generate", "--dir", str(tmp_path), "--key-id",
                                      "k2026"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "k2026.key").stat().st_mode & 0o777 == 0o600
    again = CliRunner().invoke(app, ["keys", "generate", "--dir", str(tmp_path), "--key-id",
                                     "k2026"], env={"COLUMNS": "200"})
    assert again.exit_code == 2 and "never overwritten" in again.output


def test_the_checkpoint_command_signs_every_tenant_and_needs_a_key(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    fill(ledger, 3, tenant="acme")
    fill(ledger, 2, tenant="globex")
    runner = CliRunner()
    refused = runner.invoke(app, ["checkpoint"], env={**store_env(settings),
                                                      "LEDGER_SIGNING_KEY_FILE": ""})
    assert refused.exit_code == 2
    assert "no signing key configured" in " ".join(refused.output.split())
    runner.invoke(app, ["keys", "generate", "--dir", str(tmp_path), "--key-id", "ops"])
    env = {**store_env(settings), "LEDGER_SIGNING_KEY_FILE": str(tmp_path / "ops.key"),
           "LEDGER_SIGNING_KEY_ID": "ops"}
    signed = runner.invoke(app, ["checkpoint"], env=env)
    assert signed.exit_code == 0, signed.output
    assert [c.tree_size for c in ledger.store.checkpoints("acme")] == [3]
    assert [c.key_id for c in ledger.store.checkpoints("globex")] == ["ops"]
    nothing = runner.invoke(app, ["checkpoint"], env=env)
    assert "nothing to sign" in nothing.output
    verified_with_configured_key = runner.invoke(app, ["verify"], env=env)
    assert verified_with_configured_key.exit_code == 0, verified_with_configured_key.output
