"""Checkpoints outsiders can hold the ledger to: signed notes, witnesses, handed-out checks.

The notes are verified by Go's golang.org/x/mod/sumdb/note (tests/interop/notecheck), an
implementation we did not write. The attack these guard against: whoever holds the
database and the signing key rewrites history and re-signs it consistently.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.adapters.notes import cosigner_vkey
from ledger.adapters.signing import Signer
from ledger.adapters.store import EventStore
from ledger.adapters.validation import EventValidator
from ledger.adapters.witness_state import WitnessStateDir
from ledger.application.handed_out import check_handed_out, check_receipts
from ledger.application.recording import Ledger
from ledger.application.sealing import Sealer
from ledger.application.transparency import Transparency
from ledger.application.witness import Witness, WitnessRefused
from ledger.config import Settings
from ledger.domain.access import Role
from ledger.domain.signed_note import parse_vkey
from tests.support.api import bearer, issue
from tests.support.clock import FixedClock
from tests.support.envelopes import envelope

NOTECHECK = Path(__file__).resolve().parents[1] / "interop" / "notecheck"
WITNESS = "witness.example/w1"


@pytest.fixture(scope="session")
def notecheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Go's note verifier, built from the module in tests/interop (Go's module proxy)."""
    go = shutil.which("go")
    assert go, "Go is needed for the independent note verifier (the machine image has it)"
    binary = tmp_path_factory.mktemp("go") / "notecheck"
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=NOTECHECK, check=True,
                   timeout=300)
    return binary


def go_verify(binary: Path, note: str, keys: list[str], cosigners: tuple[str, ...] = ()) -> Any:
    done = subprocess.run([str(binary)], input=json.dumps(
        {"note": note, "keys": keys, "cosigners": list(cosigners)}), capture_output=True,
        text=True, timeout=60, check=False)
    return json.loads(done.stdout)


@pytest.fixture
def witness_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def client(ledger: Ledger, sealer: Sealer, witness_key: Ed25519PrivateKey
           ) -> Iterator[TestClient]:
    trusted = [parse_vkey(cosigner_vkey(WITNESS, witness_key.public_key()))]
    app = create_app(ledger, transparency=Transparency(ledger.store, ledger.clock, trusted))
    with TestClient(app) as client:
        client.headers.update(bearer(issue(client, Role.AUDITOR)))
        yield client


def post(client: TestClient, *events: dict[str, Any]) -> None:
    publisher = bearer(issue(client, Role.PUBLISHER, events[0]["tenant"]))
    response = client.post("/v1/events", json=list(events), headers=publisher)
    assert response.status_code == 200, response.text


def log_vkeys(client: TestClient) -> list[str]:
    keys = client.get("/v1/keys").json()
    return [k["note_verifier_key"] for k in keys]


def witness_for(tmp_path: Path, client: TestClient, key: Ed25519PrivateKey,
                clock: FixedClock) -> Callable[[], Any]:
    witness = Witness(WITNESS, key, [parse_vkey(k) for k in log_vkeys(client)],
                      WitnessStateDir(tmp_path / "witness"), clock)

    def consistency(first: int, second: int) -> list[bytes]:
        proof = client.get("/v1/checkpoints/consistency", params={"from": first, "to": second})
        assert proof.status_code == 200, proof.text
        return [bytes.fromhex(h) for h in proof.json()["consistency_proof"]]

    def round_() -> Any:
        cosigned = witness.witness(client.get("/v1/checkpoints/latest").text, consistency)
        answer = client.post("/v1/checkpoints/cosignatures", content=cosigned.note.encode())
        assert answer.status_code == 201, answer.text
        return cosigned

    return round_


def test_the_latest_checkpoint_is_a_signed_note_that_go_s_note_package_verifies(
    client: TestClient, notecheck: Path
) -> None:
    post(client, *(envelope(f"e{i}") for i in range(8)))
    answer = client.get("/v1/checkpoints/latest")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    checked = go_verify(notecheck, answer.text, log_vkeys(client))
    assert checked.get("error") is None, checked
    assert (checked["origin"], checked["size"]) == ("ledger.local/acme", 8)
    assert checked["verified"] == ["ledger.local/acme"]
    root = client.get("/v1/checkpoints").json()[-1]["root_hash"]
    assert base64.b64decode(checked["root"]).hex() == root


def test_keys_are_listed_with_their_validity(client: TestClient, signer: Signer) -> None:
    post(client, *(envelope(f"e{i}") for i in range(4)))
    (key,) = client.get("/v1/keys").json()
    assert key["key_id"] == signer.key_id and key["current"] and key["valid_until"] is None
    assert key["note_verifier_key"].startswith("ledger.local/acme+")


def test_a_witness_cosigns_growth_and_go_verifies_both_signatures(
    client: TestClient, notecheck: Path, witness_key: Ed25519PrivateKey, clock: FixedClock,
    tmp_path: Path,
) -> None:
    post(client, *(envelope(f"e{i}") for i in range(4)))
    witness = witness_for(tmp_path, client, witness_key, clock)
    assert witness().head.tree_size == 4
    post(client, *(envelope(f"f{i}") for i in range(4)))
    assert witness().head.tree_size == 8  # checked with a consistency proof from 4
    note = client.get("/v1/checkpoints/latest").text
    checked = go_verify(notecheck, note, log_vkeys(client),
                        (cosigner_vkey(WITNESS, witness_key.public_key()),))
    assert checked.get("error") is None, checked
    assert checked["verified"] == ["ledger.local/acme", WITNESS]


def test_a_cosignature_by_an_unknown_witness_is_refused(
    client: TestClient, clock: FixedClock, tmp_path: Path
) -> None:
    post(client, *(envelope(f"e{i}") for i in range(4)))
    stranger = Witness("stranger.example/w", Ed25519PrivateKey.generate(),
                       [parse_vkey(k) for k in log_vkeys(client)],
                       WitnessStateDir(tmp_path / "s"), clock)
    cosigned = stranger.witness(client.get("/v1/checkpoints/latest").text, lambda a, b: [])
    answer = client.post("/v1/checkpoints/cosignatures", content=cosigned.note.encode())
    assert answer.status_code == 422
    assert "no cosignature by a witness this ledger trusts" in answer.json()["detail"]


def _rewritten(folder: Path, signer: Signer, clock: FixedClock,
               events: list[dict[str, Any]]) -> Ledger:
    """The same tenant's history, recorded differently into a fresh store, same key."""
    ledger = Ledger(EventStore(Settings(home=folder, database_url=None)), EventValidator(), clock)
    sealer = Sealer(ledger.store, signer, clock, 4, timedelta(hours=1))
    ledger.after_append.append(sealer.after_append)
    ledger.record(events)
    return ledger


def test_a_consistent_rewrite_with_the_same_key_is_caught_by_what_was_handed_out(
    client: TestClient, ledger: Ledger, signer: Signer, witness_key: Ed25519PrivateKey,
    clock: FixedClock, tmp_path: Path,
) -> None:
    post(client, *(envelope(f"e{i}", return_days=3) for i in range(8)))
    handed_out = client.get("/v1/checkpoints/latest").text
    witness = witness_for(tmp_path, client, witness_key, clock)
    witness()
    keys = {signer.key_id: signer.public_key}
    assert [c.problem for c in check_handed_out(ledger.store, [("kept", handed_out)], keys)] \
        == [None]
    # The insider rewrites: drops e5's promise of 3 days and records 30, then re-signs.
    rewritten = [envelope(f"e{i}", return_days=30 if i == 5 else 3) for i in range(8)]
    forged = _rewritten(tmp_path / "forged", signer, clock, rewritten)
    problems = check_handed_out(forged.store, [("kept", handed_out)], keys)
    assert problems[0].problem is not None and "rewritten" in problems[0].problem
    forged_note = Transparency(forged.store, clock).latest_note("acme")
    assert forged_note is not None
    with pytest.raises(WitnessRefused, match="fork"):
        Witness(WITNESS, witness_key, [parse_vkey(k) for k in log_vkeys(client)],
                WitnessStateDir(tmp_path / "witness"), clock).witness(forged_note,
                                                                     lambda a, b: [])


def test_receipts_that_no_longer_match_their_entries_are_reported(
    client: TestClient, ledger: Ledger
) -> None:
    post(client, *(envelope(f"e{i}") for i in range(3)))
    assert check_receipts(ledger.store) == []


# --- ledger verify against what was handed out ----------------------------------------


def _pem_public(signer: Signer, folder: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    path = folder / "ledger.pub"
    path.write_bytes(signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def _cli(folder: Path, *args: str) -> Any:
    from typer.testing import CliRunner

    from cli.main import app

    env = {"LEDGER_HOME": str(folder), "LEDGER_DATABASE_URL": "", "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def test_ledger_verify_fails_a_rewrite_that_a_kept_checkpoint_does_not_extend(
    client: TestClient, signer: Signer, clock: FixedClock, tmp_path: Path
) -> None:
    post(client, *(envelope(f"e{i}", return_days=3) for i in range(8)))
    kept = tmp_path / "kept.checkpoint"
    kept.write_text(client.get("/v1/checkpoints/latest").text, encoding="utf-8")
    pub = _pem_public(signer, tmp_path)
    rewritten = [envelope(f"e{i}", return_days=30 if i == 5 else 3) for i in range(8)]
    _rewritten(tmp_path / "forged", signer, clock, rewritten).store.close()

    result = _cli(tmp_path / "forged", "verify", "--public-key", f"{signer.key_id}={pub}",
                  "--checkpoint", str(kept))
    assert result.exit_code == 1, result.output
    assert "does not extend" in result.output and "history was rewritten" in result.output

    honest = [envelope(f"e{i}", return_days=3) for i in range(8)]
    _rewritten(tmp_path / "honest", signer, clock, honest).store.close()
    result = _cli(tmp_path / "honest", "verify", "--public-key", f"{signer.key_id}={pub}",
                  "--checkpoint", str(kept))
    assert result.exit_code == 0, result.output
    assert "extends" in result.output


def test_ledger_verify_without_a_trusted_key_says_so_instead_of_crying_tampered(
    signer: Signer, clock: FixedClock, tmp_path: Path
) -> None:
    _rewritten(tmp_path / "store", signer, clock,
               [envelope(f"e{i}") for i in range(4)]).store.close()
    result = _cli(tmp_path / "store", "verify")
    assert result.exit_code == 2
    assert "no trusted public key" in result.output and "TAMPERED" not in result.output


def test_a_proof_bundle_carries_the_cosigned_note_and_a_changed_note_fails_it(
    client: TestClient, signer: Signer, witness_key: Ed25519PrivateKey, clock: FixedClock,
    tmp_path: Path,
) -> None:
    from ledger.application.evidence_check import verify_bundle

    post(client, *(envelope(f"e{i}") for i in range(4)))
    witness_for(tmp_path, client, witness_key, clock)()
    bundle = client.get("/v1/proofs/e2").json()
    assert WITNESS in bundle["signed_note"]
    keys = {signer.key_id: signer.public_key}
    assert verify_bundle(bundle, keys).ok
    other_root = base64.b64encode(bytes(32)).decode()
    lines = bundle["signed_note"].split("\n")
    forged = {**bundle, "signed_note": "\n".join([lines[0], lines[1], other_root, *lines[3:]])}
    report = verify_bundle(forged, keys)
    assert not report.ok and "another tree" in (report.checkpoint_problem or "")


def test_a_truncated_tail_is_caught_by_the_witness_s_memory(
    client: TestClient, signer: Signer, witness_key: Ed25519PrivateKey, clock: FixedClock,
    tmp_path: Path,
) -> None:
    post(client, *(envelope(f"e{i}") for i in range(8)))
    witness_for(tmp_path, client, witness_key, clock)()
    pub = _pem_public(signer, tmp_path)
    # The insider keeps only the first four entries (and their checkpoint): a clean store.
    _rewritten(tmp_path / "short", signer, clock,
               [envelope(f"e{i}") for i in range(4)]).store.close()
    result = _cli(tmp_path / "short", "verify", "--public-key", f"{signer.key_id}={pub}",
                  "--witness-state", str(tmp_path / "witness"))
    assert result.exit_code == 1, result.output
    assert "entries were removed" in result.output
