"""Each envelope is kept exactly as received (its text) beside the canonical form that is
hashed, whichever way it arrived: HTTP, a file, Kafka. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app
from consumers.batch import BatchRecorder
from consumers.messages import InboundMessage
from ledger.adapters.signing import Signer
from ledger.application.evidence import Prover
from ledger.application.evidence_check import verify_bundle
from ledger.application.file_ingest import ingest_file
from ledger.application.recording import Ledger
from ledger.application.sealing import Sealer
from ledger.application.verification import verify_store
from ledger.config import Settings
from ledger.domain.access import Role
from ledger.domain.chain import GENESIS_HASH, entry_hash
from ledger.domain.envelope import content_digest
from ledger.domain.events import EntryRecorded, ledger_stream_id
from ledger.domain.recording import Status
from tests.integration.test_tamper_evidence import Rows
from tests.support.api import bearer, issue
from tests.support.envelopes import envelope


def odd_text(event_id: str, note: str = "中文") -> str:
    """An envelope as a producer might write it: its own key order, spacing and escapes
    (`note`, in the payload, written with \\u escapes)."""
    value = envelope(event_id, payload={"return_days": 7, "note": note})
    data = orjson.dumps(value["data"]).decode().replace(
        orjson.dumps(note).decode(), json.dumps(note, ensure_ascii=True))
    head = ", ".join(f'"{k}" :  {orjson.dumps(v).decode()}'
                     for k, v in reversed(value.items()) if k != "data")
    return f'{{ "data" :{data},\n\t{head} }}'


def as_value(text: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(text)
    return value


def the_entries(ledger: Ledger) -> dict[str, EntryRecorded]:
    return {entry.event_id: entry for entry in ledger.store.entries("acme")}


def assert_hashed_as_before(ledger: Ledger) -> None:
    """Digest and chain are over the value alone, exactly as without the text."""
    prev = GENESIS_HASH
    for entry in ledger.store.entries("acme"):
        assert entry.digest == content_digest(entry.envelope)
        assert entry.entry_hash == entry_hash(prev, entry.position, entry.digest)
        prev = entry.entry_hash


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger)) as client:
        client.headers.update(bearer(issue(client, Role.PUBLISHER)))
        yield client


def post(client: TestClient, body: str) -> Any:
    return client.post("/v1/events", content=body.encode(),
                       headers={"content-type": "application/json"})


def test_http_keeps_each_array_elements_own_text_and_a_single_body_as_it_is(
    client: TestClient, ledger: Ledger
) -> None:
    first, second = odd_text("a"), odd_text("b", note='"]}, [')
    response = post(client, f" [\n  {first} ,{second}\r\n]  ")
    assert response.status_code == 200, response.text
    single = f"\n {odd_text('c')}\n"
    assert post(client, single).status_code == 200
    entries = the_entries(ledger)
    assert [entries[i].received for i in "abc"] == [first, second, single]
    assert entries["a"].envelope == as_value(first)
    assert entries["a"].envelope["data"]["payload"]["note"] == "中文"
    assert "\\u4e2d" in first
    assert_hashed_as_before(ledger)


def test_http_keeps_a_text_only_for_what_it_records(client: TestClient, ledger: Ledger) -> None:
    refused = orjson.dumps(envelope("x", tenant="globex")).decode()
    response = post(client, f"[{refused}, {odd_text('a')}, {{\"id\": 1}}]")
    assert response.status_code == 403
    assert [r["status"] for r in response.json()["results"]] == [
        "rejected", "recorded", "rejected"]
    assert the_entries(ledger)["a"].received == odd_text("a")


def test_a_file_keeps_each_lines_text(ledger: Ledger, tmp_path: Path) -> None:
    lines = [odd_text("a").replace("\n", " "),
             "  " + orjson.dumps(envelope("b")).decode() + " \t",
             odd_text("c", "é").replace("\n", "")]
    path = tmp_path / "events.jsonl"
    path.write_bytes("\r\n".join(lines).encode() + b"\n")
    report = ingest_file(ledger, path, batch_size=2)
    assert report.counts["recorded"] == 3
    assert [e.received for e in ledger.store.entries("acme")] == lines
    assert_hashed_as_before(ledger)


def test_kafka_keeps_a_structured_value_and_no_text_for_a_binary_event(ledger: Ledger) -> None:
    structured = odd_text("a")
    binary_value = envelope("b")
    headers = tuple((f"ce_{k}", str(v).encode()) for k, v in binary_value.items()
                    if k not in ("data", "datacontenttype"))
    messages = [
        InboundMessage("ledger.events", 0, 0, b"SO-1001", structured.encode()),
        InboundMessage("ledger.events", 0, 1, b"SO-1001",
                       orjson.dumps(binary_value["data"]),
                       (*headers, ("content-type", b"application/json"))),
    ]
    result = BatchRecorder(ledger).record(messages)
    assert (result.recorded, result.dead_lettered) == (2, 0), result
    entries = the_entries(ledger)
    assert entries["a"].received == structured
    assert entries["b"].received is None
    assert_hashed_as_before(ledger)


def test_entries_without_a_text_load_and_verify_beside_entries_with_one(
    ledger: Ledger, signer: Signer, sealer: Sealer
) -> None:
    assert {o.status for o in ledger.record([envelope("a"), envelope("b")])} == {
        Status.RECORDED}
    ledger.record([as_value(odd_text("c"))], texts=[odd_text("c")])
    sealer.seal("acme")
    assert [e.received for e in ledger.store.entries("acme")] == [None, None, odd_text("c")]
    assert verify_store(ledger.store, {signer.key_id: signer.public_key}).ok
    bundle = Prover(ledger.store).bundle("acme", ledger.store.entries("acme"))
    assert ["received" in e for e in bundle["entries"]] == [False, False, True]
    assert verify_bundle(orjson.loads(orjson.dumps(bundle)),
                         {signer.key_id: signer.public_key}).ok


def test_verify_evidence_fails_when_the_text_as_received_is_changed(
    ledger: Ledger, signer: Signer, sealer: Sealer, tmp_path: Path
) -> None:
    text = odd_text("a")
    ledger.record([as_value(text)], texts=[text])
    sealer.seal("acme")
    bundle = orjson.loads(orjson.dumps(
        Prover(ledger.store).bundle("acme", ledger.store.entries("acme"))))
    assert bundle["entries"][0]["received"] == text
    pub = tmp_path / "ledger.pub"
    pub.write_bytes(signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    path = tmp_path / "a.proofs.json"

    def verify_evidence(document: dict[str, Any]) -> tuple[int, str]:
        path.write_bytes(orjson.dumps(document))
        result = CliRunner().invoke(app, ["verify-evidence", str(path), "--public-key",
                                          f"{signer.key_id}={pub}"], env={"COLUMNS": "200"})
        return result.exit_code, " ".join(result.output.split())

    assert verify_evidence(bundle)[0] == 0
    for changed in (text.replace('"e-li"', '"e-zhang"'), text[:-1] + ', "x": 1 }',
                    text.replace('"acme"', '"acme", "tenant": "acme"'), "not JSON", 7):
        bundle["entries"][0]["received"] = changed
        code, output = verify_evidence(bundle)
        assert code == 1, (changed, output)
        assert "received was altered" in output


def test_ledger_verify_finds_a_stored_text_that_no_longer_reads_as_its_envelope(
    ledger: Ledger, signer: Signer, sealer: Sealer, settings: Settings
) -> None:
    text = odd_text("a")
    ledger.record([as_value(text)], texts=[text])
    keys = {signer.key_id: signer.public_key}
    assert verify_store(ledger.store, keys).ok
    Rows(settings).edit(ledger_stream_id("acme"), 1, lambda state: state.update(
        received=text.replace('"e-li"', '"e-zhang"')))
    problems = [p for t in verify_store(ledger.store, keys).tenants for p in t.problems]
    assert [(p.position, p.kind) for p in problems] == [(1, "received")]
