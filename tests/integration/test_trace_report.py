"""The trace report (责任追溯报告) and a case's events over HTTP, explained and proven as a
whole: a changed or hidden record, an empty or duplicated bundle, a wrong leaf hash fail."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from ledger.adapters.signing import Signer
from ledger.application.document_check import verify_document
from ledger.application.sealing import Sealer
from ledger.domain.access import Role
from tests.support.api import Service, worked_examples


@pytest.fixture
def sealed(service: Service, sealer: Sealer) -> Service:
    service.ingest(worked_examples())
    service.settle()
    sealer.seal("acme", force=True)
    return service


@pytest.fixture
def keys(signer: Signer) -> dict[str, Any]:
    return {signer.key_id: signer.public_key}


def test_a_trace_report_explains_each_liability_with_the_rule_and_values_behind_it(
    sealed: Service,
) -> None:
    report = sealed.get("/v1/cases/SO-1001/report")

    zhang = next(li for li in report["liabilities"] if li["employee_id"] == "e-zhang")
    why = zhang["explanation"]
    assert (why["policy"]["rule"], why["operation"]["values_read"]) == (
        "payload.return_days <= 3", {"return_days": 7})
    assert (why["subordinate_id"], why["outcome"], why["severity"]) == ("e-li", "violated",
                                                                       "major")
    assert zhang["labels"]["basis"] == "主管未履职" and "主管未履职" in why["why"]
    assert report["responsibility_source"]["employee_id"] == "e-li"


def test_a_trace_report_speaks_english_when_asked(sealed: Service) -> None:
    by_header = sealed.client.get("/v1/cases/SO-1001/report", headers={
        **sealed.auth(), "Accept-Language": "en-US,en;q=0.8"}).json()
    by_query = sealed.get("/v1/cases/SO-1001/report", lang="en")
    assert by_header["liabilities"][0]["labels"]["kind"] == "direct" == by_query[
        "liabilities"][0]["labels"]["kind"]


def test_the_whole_trace_report_is_proven(sealed: Service, keys: dict[str, Any]) -> None:
    report = sealed.get("/v1/cases/SO-1001/report")
    assert verify_document(report, keys).ok


def test_a_changed_or_hidden_record_fails_verification(
    sealed: Service, keys: dict[str, Any],
) -> None:
    report = sealed.get("/v1/cases/SO-1001/report")
    changed = copy.deepcopy(report)
    changed["liabilities"][0]["basis"] = "approved_violation"
    deleted = copy.deepcopy(report)
    del deleted["liabilities"][0]
    value = copy.deepcopy(report)
    value["liabilities"][0]["explanation"]["operation"]["values_read"]["return_days"] = 3
    for tampered in (changed, deleted, value):
        assert not verify_document(tampered, keys).ok


def test_an_empty_duplicated_or_wrongly_hashed_bundle_fails(
    sealed: Service, keys: dict[str, Any],
) -> None:
    report = sealed.get("/v1/cases/SO-1001/report")
    empty = copy.deepcopy(report)
    empty["proofs"]["entries"] = []
    doubled = copy.deepcopy(report)
    doubled["proofs"]["entries"].append(doubled["proofs"]["entries"][0])
    leaf = copy.deepcopy(report)
    leaf["proofs"]["entries"][0]["leaf_hash"] = "00" * 32
    unsigned = {**report, "proofs": None}
    for tampered in (empty, doubled, leaf, unsigned):
        assert not verify_document(tampered, keys).ok


def test_hr_reads_the_report_of_a_case_with_a_liability_and_the_read_is_audited(
    sealed: Service,
) -> None:
    response = sealed.client.get("/v1/cases/SO-1001/report", params={"format": "xlsx"},
                                 headers=sealed.auth(Role.HR))
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames[:3] == ["概要", "责任链", "责任"]
    assert workbook["责任"]["F2"].is_date and workbook["责任"].auto_filter.ref
    pdf = sealed.client.get("/v1/cases/SO-1001/report", params={"format": "pdf"},
                            headers=sealed.auth(Role.HR))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "责任追溯报告" in text and "第 1 页 / 共" in text
    trail = sealed.get("/v1/audit/evidence-reads")["items"]
    assert [r["route"] for r in trail].count("/v1/cases/{case_id}/report") == 2


def test_a_case_s_events_come_with_their_proofs(sealed: Service,
                                                 keys: dict[str, Any]) -> None:
    document = sealed.get("/v1/cases/SO-1001/events")
    assert {"SO-1001-submitted"} <= {e["event_id"] for e in document["events"]}
    assert verify_document(document, keys).ok
    assert sealed.status("/v1/cases/NOPE/events") == 404
