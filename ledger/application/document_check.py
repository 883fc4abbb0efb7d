"""Proof of the whole document: everything an evidence document or trace report shows is
in the signed ledger exactly as shown (docs/evidence-format.md, "Checking a document").

`verify_bundle` proves the entries of the document's `proofs`; this checks that the rest
of the document says only what those proven entries say:

1. every object of the document (outside `proofs`) that names a `position` names an entry
   of the bundle, and each of its fields that the entry's `data` also has is equal to it;
   `event_id`, `type`, `source`, `time` are compared with the envelope's `id`, `type`,
   `source`, `time`, and `envelope`, `digest`, `entry_hash`, `prev_hash`, `recorded_at`,
   `kind`, `stream` with the entry itself. An object that has `envelope` is an entry
   shown whole: its fields are compared with the entry and envelope only;
2. `values_read` hold the values at those paths of the entry's `data.payload`, and
   `missing_fields` are paths it does not have; a process step shown (`step` with `title`
   or `output_standard`) is that step of the proven `ledger.process.defined`;
3. `corrected_position` names a `liability.corrected` entry of the same liability with
   the reason and replacement shown;
   A liability shows itself corrected (`status` "corrected", `corrected` true) exactly
   when it names its correction;
4. every record of the document's sections (liabilities, positive records, violations,
   deadlines, escalations, corrections, links, events) and every part of a liability's
   explanation names a `position`: a record without one would be shown unproven;
5. in a document that shows `liabilities`, nothing proven is hidden: every
   `liability.assigned` entry of the bundle is shown in `liabilities`, and every
   `liability.corrected` entry marks its liability as corrected;
   no liability is shown twice; the liabilities are those of the document's `employee_id`
   or `case_id`.

Every entry's `recorded_at` must be written in the one form its leaf hashes
(`YYYY-MM-DDTHH:MM:SS.ffffffZ`): a verifier that hashes the string as shown must agree.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.adapters.signing import KeyRing
from ledger.application.evidence_check import BundleReport, EntryCheck, verify_bundle
from ledger.domain.checkpoint import rfc3339_utc

#: Fields of a shown object compared with the entry itself rather than its data.
_ENTRY_FIELDS = ("digest", "entry_hash", "prev_hash", "recorded_at", "kind", "stream",
                 "envelope", "received")
_ENVELOPE_FIELDS = {"type": "type", "source": "source", "time": "time", "event_id": "id"}
_MISSING = object()
#: The document's sections of records, each record an entry's.
_SECTIONS = ("liabilities", "positive_records", "violations", "deadlines", "escalations",
             "corrections", "links", "events")
#: The parts of a liability's explanation, each read from one entry.
_PARTS = ("violation", "policy", "operation", "deadline", "step")
_PART_LISTS = ("escalations", "appeals")


@dataclass(slots=True)
class DocumentReport:
    bundle: BundleReport
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bundle.ok and not self.problems


def verify_document(document: Mapping[str, Any], keys: KeyRing) -> DocumentReport:
    """Check a document with its `proofs`, or a bare proof bundle (nothing else shown)."""
    proofs = document.get("proofs") if "proofs" in document else document
    if not isinstance(proofs, Mapping):
        return DocumentReport(BundleReport(checkpoint_problem=(
            "the document carries no proofs: it was made before a signed checkpoint")))
    report = DocumentReport(verify_bundle(proofs, keys))
    entries = proofs.get("entries")
    items: list[Any] = entries if isinstance(entries, list) else []
    _recorded_at_forms(report.bundle, items)
    if proofs is document:
        return report
    proven = {item.get("position"): item for item in items if isinstance(item, Mapping)}
    for where, shown in _shown(document):
        report.problems += [f"{where}: {p}" for p in _check_shown(shown, proven)]
    report.problems += _unpositioned(document)
    if "liabilities" in document:  # a document of liabilities hides none of those proven
        report.problems += _completeness(document, proven)
    return report


def _recorded_at_forms(bundle: BundleReport, items: list[Any]) -> None:
    """An entry whose recording time is not written in its leaf's form fails: an outside
    verifier hashes the string as shown."""
    for index, (check, item) in enumerate(zip(bundle.entries, items, strict=False)):
        shown = item.get("recorded_at") if isinstance(item, Mapping) else None
        if check.ok and not _canonical_time(shown):
            bundle.entries[index] = EntryCheck(check.position, check.event_id, (
                f"recorded_at {shown!r} is not written as its leaf hashes it "
                "(YYYY-MM-DDTHH:MM:SS.ffffffZ)"))


def _canonical_time(text: Any) -> bool:
    try:
        return isinstance(text, str) and rfc3339_utc(datetime.fromisoformat(text)) == text
    except ValueError:
        return False


def _unpositioned(document: Mapping[str, Any]) -> list[str]:
    """Records of the document's sections, and parts of explanations, that name no entry."""
    problems = []
    for section in _SECTIONS:
        records = document.get(section)
        for index, record in enumerate(records if isinstance(records, list) else []):
            if not _positioned(record):
                problems.append(f"$.{section}[{index}]: a record that names no ledger "
                                "position is shown unproven")
            if section == "liabilities" and isinstance(record, Mapping):
                problems += [f"$.{section}[{index}].explanation.{part}: a part that names no "
                             "ledger position is shown unproven"
                             for part in _unpositioned_parts(record.get("explanation"))]
    return problems


def _unpositioned_parts(explanation: Any) -> list[str]:
    if not isinstance(explanation, Mapping):
        return []
    found = [part for part in _PARTS if part in explanation
             and not _positioned(explanation[part])]
    for name in _PART_LISTS:
        values = explanation.get(name)
        if name in explanation and not isinstance(values, list):
            found.append(name)
        found += [f"{name}[{i}]" for i, value in enumerate(values or [])
                  if not _positioned(value)] if isinstance(values, list) else []
    return found


def _positioned(record: Any) -> bool:
    return isinstance(record, Mapping) and type(record.get("position")) is int


def _shown(node: Any, where: str = "$") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every object of the document that names a ledger position (proofs excluded)."""
    if isinstance(node, Mapping):
        if isinstance(node.get("position"), int) or "corrected_position" in node:
            yield where, node
        for key, value in node.items():
            if not (where == "$" and key == "proofs"):
                yield from _shown(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _shown(value, f"{where}[{index}]")


def _check_shown(shown: Mapping[str, Any], proven: Mapping[Any, Any]) -> list[str]:
    problems: list[str] = []
    position = shown.get("position")
    if isinstance(position, int):
        item = proven.get(position)
        if item is None:
            return [f"position {position} is shown but not proven"]
        problems += _differences(shown, item)
    corrected = shown.get("corrected_position")
    if corrected is not None:
        problems += _correction(shown, proven.get(corrected), corrected)
    return problems


def _differences(shown: Mapping[str, Any], item: Mapping[str, Any]) -> list[str]:
    envelope = item.get("envelope") or {}
    found = envelope.get("data")
    data: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    problems = []
    entry_row = "envelope" in shown  # an entry as shown whole, not a record read from it
    for key, value in shown.items():
        if key in ("position", "corrected_position"):
            continue
        if key in data and not entry_row:
            expected = data[key]
        elif key in _ENTRY_FIELDS:
            expected = item.get(key)
        elif key in _ENVELOPE_FIELDS:
            expected = envelope.get(_ENVELOPE_FIELDS[key])
        else:
            continue
        if value != expected:
            problems.append(f"{key} is shown as {value!r}, the proven entry says {expected!r}")
    problems += _payload_values(shown, data)
    problems += _step(shown, envelope, data)
    return problems


def _payload_values(shown: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    payload = data.get("payload")
    problems = []
    for path, value in (shown.get("values_read") or {}).items():
        if _at(payload, path) != value:
            problems.append(f"the value read at {path} is not the proven payload's")
    for path in shown.get("missing_fields") or []:
        if _at(payload, path) is not _MISSING:
            problems.append(f"{path} is shown missing, the proven payload has it")
    return problems


def _step(shown: Mapping[str, Any], envelope: Mapping[str, Any],
          data: Mapping[str, Any]) -> list[str]:
    if envelope.get("type") != "ledger.process.defined" or "step" not in shown:
        return []
    steps = [s for s in data.get("steps") or [] if isinstance(s, Mapping)
             and s.get("step") == shown["step"]]
    if not steps:
        return [f"step {shown['step']!r} is not a step of the proven process"]
    return [f"the step's {key} is not the proven process's"
            for key in ("title", "output_standard", "required_outputs", "due")
            if key in shown and shown[key] != steps[0].get(key)]


def _correction(shown: Mapping[str, Any], item: Any, position: Any) -> list[str]:
    if not isinstance(item, Mapping):
        return [f"correction at position {position} is shown but not proven"]
    envelope = item.get("envelope") or {}
    data = envelope.get("data") or {}
    if envelope.get("type") != "liability.corrected" or data.get(
            "liability_id") != shown.get("liability_id"):
        return [f"position {position} is not this liability's correction"]
    return [f"{key} is shown as {shown.get(key)!r}, the proven correction says "
            f"{data.get(name)!r}" for key, name in (("corrected_reason", "reason"),
                                                     ("replaced_by", "replaced_by"))
            if key in shown and shown.get(key) != data.get(name)]


def _completeness(document: Mapping[str, Any], proven: Mapping[Any, Any]) -> list[str]:
    liabilities = [li for li in document.get("liabilities") or [] if isinstance(li, Mapping)]
    shown_at = [li.get("position") for li in liabilities]
    problems = [f"liability {li.get('liability_id')} is shown twice"
                for index, li in enumerate(liabilities)
                if li.get("liability_id") in [x.get("liability_id") for x in liabilities[:index]]]
    corrected = {li.get("liability_id") for li in liabilities
                 if li.get("corrected_position") is not None}
    problems += _status_problems(liabilities)
    problems += _subject_problems(document, liabilities)
    for position, item in sorted(proven.items(), key=lambda kv: str(kv[0])):
        envelope = item.get("envelope") or {}
        data = envelope.get("data") or {}
        if envelope.get("type") == "liability.assigned" and position not in shown_at:
            problems.append(f"the proven liability {data.get('liability_id')} (position "
                            f"{position}) is not shown")
        if envelope.get("type") == "liability.corrected" and data.get(
                "liability_id") not in corrected and any(
                li.get("liability_id") == data.get("liability_id") for li in liabilities):
            problems.append(f"liability {data.get('liability_id')} is shown in force, but "
                            f"its proven correction (position {position}) says otherwise")
    return problems


def _status_problems(liabilities: list[Mapping[str, Any]]) -> list[str]:
    """A liability shown corrected names its correction, and one that names it is shown
    corrected."""
    problems = []
    for li in liabilities:
        names = li.get("corrected_position") is not None
        says = li.get("status") == "corrected" or li.get("corrected") is True
        if names != says:
            problems.append(f"liability {li.get('liability_id')} is shown "
                            f"{'in force' if names else 'corrected'}, but "
                            f"{'names' if names else 'names no'} proven correction")
    return problems


def _subject_problems(document: Mapping[str, Any],
                      liabilities: list[Mapping[str, Any]]) -> list[str]:
    """An employee's evidence shows that employee's liabilities; a case's report, the case's."""
    return [f"liability {li.get('liability_id')} has {key} {li.get(key)!r}, the document is "
            f"about {document[key]!r}"
            for key in ("employee_id", "case_id") if key in document
            for li in liabilities if li.get(key) != document[key]]


def _at(payload: Any, path: str) -> Any:
    value = payload
    for part in str(path).split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value
