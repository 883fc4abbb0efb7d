"""A verifier written only from docs/evidence-format.md agrees with `ledger verify-evidence`
on real documents (HTTP evidence, trace report, a case's events, CLI exports) and on each
way of tampering with them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from cli.main import app
from ledger.adapters.notes import cosign_note
from ledger.adapters.signing import Signer
from ledger.application.sealing import Sealer
from ledger.domain.signed_note import SignedNote, parse_note
from tests.interop.independent_verifier import verify
from tests.support.api import Service, acme_event, worked_examples

Doc = dict[str, Any]
LATE_ASSIGNMENT = acme_event("assign-e-li-late", "ledger.org.employee.assigned",
                             "2026-02-20T09:00:00+08:00", {
                                 "employee_id": "e-li", "name": "李娜 Li Na",
                                 "unit_id": "sales-2", "supervisor_id": "e-wang"})


@pytest.fixture
def sealed(service: Service, sealer: Sealer) -> Service:
    """The worked examples, then a late assignment that corrects Zhang's liabilities."""
    service.ingest(worked_examples())
    service.settle()
    service.ingest([LATE_ASSIGNMENT])
    service.settle()
    sealer.seal("acme", force=True)
    return service


@pytest.fixture
def judges(signer: Signer, tmp_path: Path, service: Service) -> Callable[[Doc], tuple[bool, bool]]:
    """Both verdicts on a document: `ledger verify-evidence` and the independent one."""
    public = signer.public_key.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = tmp_path / "ledger.pub"
    pem.write_bytes(public)
    raw = signer.public_key.public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)

    def judge(document: Doc) -> tuple[bool, bool]:
        path = tmp_path / "document.json"
        path.write_bytes(orjson.dumps(document))
        result = CliRunner().invoke(app, ["verify-evidence", str(path), "--public-key",
                                          f"{signer.key_id}={pem}"], env=_env(service))
        assert result.exit_code in (0, 1), result.output
        return result.exit_code == 0, not verify(document, {signer.key_id: raw})

    return judge


def _env(service: Service) -> dict[str, str]:
    settings = service.settings
    return {"LEDGER_HOME": str(settings.home), "LEDGER_STORE_NAME": settings.store_name,
            "LEDGER_DATABASE_URL": settings.database_url or "", "COLUMNS": "200"}


def _documents(service: Service, tmp_path: Path) -> dict[str, Doc]:
    out = tmp_path / "zhang.json"
    cli = CliRunner().invoke(app, ["export", "evidence", "--tenant", "acme", "-e", "e-zhang",
                                   "--out", str(out)], env=_env(service))
    assert cli.exit_code == 0, cli.output
    report = tmp_path / "report.json"
    cli = CliRunner().invoke(app, ["export", "report", "--tenant", "acme", "--case",
                                   "SO-1001", "--out", str(report)], env=_env(service))
    assert cli.exit_code == 0, cli.output
    return {
        "http evidence": service.get("/v1/employees/e-zhang/evidence"),
        "http trace report": service.get("/v1/cases/SO-1001/report"),
        "trace report with a missed deadline": service.get("/v1/cases/LAUNCH-1/report"),
        "english trace report": service.get("/v1/cases/B-77/report", lang="en"),
        "case events": service.get("/v1/cases/SO-1001/events"),
        "proof of one event": service.get("/v1/proofs/SO-1001-submitted"),
        "cli evidence": orjson.loads(out.read_bytes()),
        "cli trace report": orjson.loads(report.read_bytes()),
    }


def _liability(doc: Doc, corrected: bool = False) -> Doc:
    """A liability (corrected or not, as asked, when the document has one)."""
    liabilities = doc["liabilities"]
    return next((li for li in liabilities if bool(li.get("corrected_position")) == corrected),
                liabilities[0])


def _entry_of(doc: Doc, position: int) -> Doc:
    return next(e for e in doc["proofs"]["entries"] if e["position"] == position)


def changed_basis(doc: Doc) -> None:
    _liability(doc)["basis"] = "approved_violation"


def deleted_liability(doc: Doc) -> None:
    doc["liabilities"].remove(_liability(doc))


def hidden_correction(doc: Doc) -> None:
    liability = _liability(doc, corrected=True)
    for key in ("corrected_position", "corrected_reason", "replaced_by"):
        liability.pop(key, None)
    liability.update(status="active", corrected=False)
    doc.pop("corrections", None)


def emptied(doc: Doc) -> None:
    _bundle(doc)["entries"] = []


def duplicated_entry(doc: Doc) -> None:
    _bundle(doc)["entries"].append(copy.deepcopy(_bundle(doc)["entries"][-1]))


def wrong_leaf_hash(doc: Doc) -> None:
    _bundle(doc)["entries"][0]["leaf_hash"] = "00" * 32


def changed_envelope(doc: Doc) -> None:
    _bundle(doc)["entries"][0]["envelope"]["source"] = "forged/source"


def unproven_record(doc: Doc) -> None:
    copied = copy.deepcopy(_liability(doc))
    del copied["position"]
    copied["liability_id"] = "L-invented"
    doc["liabilities"].append(copied)


def changed_value_read(doc: Doc) -> None:
    read = next(li["explanation"]["operation"]["values_read"] for li in doc["liabilities"]
                if li["explanation"].get("operation", {}).get("values_read"))
    read.update({path: "forged" for path in read})


def _bundle(doc: Doc) -> Doc:
    bundle: Doc = doc.get("proofs", doc)
    return bundle


ANY = (emptied, duplicated_entry, wrong_leaf_hash, changed_envelope)
OF_LIABILITIES = (changed_basis, deleted_liability, hidden_correction, unproven_record,
                  changed_value_read)


def test_both_verifiers_accept_every_real_document(
    sealed: Service, tmp_path: Path, judges: Callable[[Doc], tuple[bool, bool]],
) -> None:
    for name, document in _documents(sealed, tmp_path).items():
        assert judges(document) == (True, True), name


def test_both_verifiers_reject_every_tampered_document(
    sealed: Service, tmp_path: Path, judges: Callable[[Doc], tuple[bool, bool]],
) -> None:
    verdicts = {}
    for name, document in _documents(sealed, tmp_path).items():
        liabilities = document.get("liabilities") or []
        for tamper in (*ANY, *(OF_LIABILITIES if liabilities else ())):
            if tamper is hidden_correction and not any(
                    li.get("corrected_position") for li in liabilities):
                continue
            if tamper is changed_value_read and not any(
                    li["explanation"].get("operation", {}).get("values_read")
                    for li in liabilities):
                continue
            tampered = copy.deepcopy(document)
            tamper(tampered)
            verdicts[(name, tamper.__name__)] = judges(tampered)
    assert {k: v for k, v in verdicts.items() if v != (False, False)} == {}
    assert ("cli trace report", "hidden_correction") in verdicts


def test_an_unsigned_document_verifies_with_neither(
    sealed: Service, judges: Callable[[Doc], tuple[bool, bool]],
) -> None:
    report = sealed.get("/v1/cases/SO-1001/report")
    assert judges({**report, "proofs": None}) == (False, False)


def test_deleting_a_liability_with_its_entry_is_the_documented_limit(
    sealed: Service, judges: Callable[[Doc], tuple[bool, bool]],
) -> None:
    """docs/evidence-format.md, 3.3: the bundle alone cannot show what it does not hold;
    the case's events at the same checkpoint do."""
    report = sealed.get("/v1/cases/LAUNCH-1/report")
    liability = report["liabilities"][0]
    report["liabilities"].remove(liability)
    for where in (report["proofs"]["entries"], report["events"]):
        where[:] = [e for e in where if e["position"] != liability["position"]]
    assert judges(report) == (True, True)
    events = sealed.get("/v1/cases/LAUNCH-1/events")
    assigned = {e["position"] for e in events["events"]
                if e["type"] == "liability.assigned"
                and e["position"] <= report["proofs"]["checkpoint"]["tree_size"]}
    assert liability["position"] in assigned - {li["position"] for li in report["liabilities"]}


def test_the_independent_verifier_checks_a_witness_s_cosignature_of_the_note(
    sealed: Service, signer: Signer,
) -> None:
    """docs/evidence-format.md, 2.6: a cosignature over the same note text, by a witness
    the verifier names, is required and checked; a forged one fails."""
    bundle = sealed.get("/v1/proofs/SO-1001-submitted")
    witness = Ed25519PrivateKey.generate()
    raw = signer.public_key.public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)
    witness_raw = witness.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw)
    note = parse_note(bundle["signed_note"])
    signature = cosign_note(witness, "witness.example", note.text, 1_800_000_000)
    cosigned = SignedNote(note.text, (*note.signatures, signature))
    keys, witnesses = {signer.key_id: raw}, {"witness.example": witness_raw}
    assert verify(bundle, keys, witnesses) == ["no cosignature of witness.example"]
    assert verify({**bundle, "signed_note": cosigned.render()}, keys, witnesses) == []
    forged = SignedNote(note.text, (*note.signatures, cosign_note(
        Ed25519PrivateKey.generate(), "witness.example", note.text, 1_800_000_000)))
    assert verify({**bundle, "signed_note": forged.render()}, keys, witnesses) == [
        "no cosignature of witness.example"]  # another key's: not the witness's, ignored
