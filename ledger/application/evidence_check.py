"""Checking proof bundles offline: the bundle and trusted public keys, no store.

The bundles are those evidence.py builds (its docstring gives the layout and how each hash
is checked); `ledger verify-evidence` and document_check.py check them here.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.adapters.json_texts import reads_as
from ledger.adapters.notes import raw_public, verify_note
from ledger.adapters.signing import KeyRing, verify_signature
from ledger.application.evidence import BUNDLE_FORMAT
from ledger.domain.chain import entry_hash
from ledger.domain.checkpoint import body_from_dict, leaf_bytes
from ledger.domain.envelope import content_digest
from ledger.domain.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.domain.signed_note import (
    ED25519,
    NoteFormatError,
    VerifierKey,
    key_id,
    parse_note,
    parse_tree_head,
)


@dataclass(frozen=True, slots=True)
class EntryCheck:
    position: int | None
    event_id: str | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(slots=True)
class BundleReport:
    tenant: str | None = None
    checkpoint_problem: str | None = None
    checkpoint: dict[str, Any] = field(default_factory=dict)
    entries: list[EntryCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.checkpoint_problem is None and all(e.ok for e in self.entries)


def verify_checkpoint_json(checkpoint: Mapping[str, Any], keys: KeyRing) -> str | None:
    """None when a checkpoint (as bundles carry it) is signed by a trusted key; else why."""
    try:
        body = body_from_dict(dict(checkpoint))
        signature = str(checkpoint["signature"])
    except (KeyError, TypeError, ValueError) as exc:
        return f"malformed checkpoint: {exc}"
    return verify_signature(keys, body.key_id, body.canonical(), signature)


def verify_bundle(bundle: Mapping[str, Any], keys: KeyRing) -> BundleReport:
    """Check a proof bundle with nothing but trusted public keys."""
    report = BundleReport()
    if bundle.get("format") != BUNDLE_FORMAT:
        report.checkpoint_problem = f"not a proof bundle (format {bundle.get('format')!r})"
        return report
    tenant = bundle.get("tenant")
    checkpoint = bundle.get("checkpoint")
    report.tenant = tenant if isinstance(tenant, str) else None
    if not isinstance(checkpoint, Mapping):
        report.checkpoint_problem = "the bundle carries no checkpoint"
        return report
    report.checkpoint = dict(checkpoint)
    report.checkpoint_problem = verify_checkpoint_json(checkpoint, keys) or _note_problem(
        bundle.get("signed_note"), checkpoint, keys)
    if report.checkpoint_problem is None and checkpoint.get("tenant") != tenant:
        report.checkpoint_problem = f"the checkpoint is tenant {checkpoint.get('tenant')!r}'s"
    entries = bundle.get("entries")
    if not isinstance(entries, list):
        report.checkpoint_problem = report.checkpoint_problem or "the bundle carries no entries"
        return report
    if not entries:
        report.checkpoint_problem = report.checkpoint_problem or "the bundle proves nothing: " \
            "it carries no entries"
    seen: set[Any] = set()
    for item in entries:
        check = _check_entry(item, str(tenant), checkpoint)
        if check.ok and check.position in seen:
            check = EntryCheck(check.position, check.event_id,
                               f"position {check.position} appears twice in the bundle")
        seen.add(check.position)
        report.entries.append(check)
    return report


def _note_problem(note: Any, checkpoint: Mapping[str, Any], keys: KeyRing) -> str | None:
    """A signed note shown beside the checkpoint must state the same tree and verify."""
    if note is None:
        return None
    try:
        parsed = parse_note(str(note))
        head = parse_tree_head(parsed.text)
    except NoteFormatError as exc:
        return f"the signed note is malformed: {exc}"
    if (head.tree_size, head.root_hash.hex()) != (checkpoint.get("tree_size"),
                                                  checkpoint.get("root_hash")):
        return "the signed note states another tree than the checkpoint"
    trusted = []
    for public in keys.values():
        raw = raw_public(public)
        trusted.append(VerifierKey(head.origin, key_id(head.origin, ED25519, raw), ED25519, raw))
    check = verify_note(parsed, trusted)
    return None if check.ok else f"the signed note: {check.problem}"


def _check_entry(item: Any, tenant: str, checkpoint: Mapping[str, Any]) -> EntryCheck:
    position = item.get("position") if isinstance(item, Mapping) else None
    envelope = item.get("envelope") if isinstance(item, Mapping) else None
    event_id = envelope.get("id") if isinstance(envelope, Mapping) else None
    try:
        problem = _entry_problem(item, tenant, checkpoint)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        problem = f"malformed entry: {exc!r}"
    return EntryCheck(
        position if isinstance(position, int) else None,
        event_id if isinstance(event_id, str) else None,
        problem,
    )


def _entry_problem(
    item: Mapping[str, Any], tenant: str, checkpoint: Mapping[str, Any]
) -> str | None:
    position = int(item["position"])
    envelope = item["envelope"]
    if envelope.get("tenant") != tenant:
        return f"the envelope is tenant {envelope.get('tenant')!r}'s, not {tenant!r}'s"
    digest = content_digest(envelope)
    if digest != item["digest"]:
        return "the envelope was altered: its canonical digest is not the recorded one"
    if "received" in item and not reads_as(item["received"], digest):
        return "the text as received was altered: it does not read as the envelope"
    recomputed = entry_hash(str(item["prev_hash"]), position, digest)
    if recomputed != item["entry_hash"]:
        return "the entry hash does not follow from its predecessor, position and digest"
    leaf = leaf_hash(
        leaf_bytes(
            tenant=tenant,
            position=position,
            entry_hash=recomputed,
            kind=str(item["kind"]),
            stream=str(item["stream"]),
            recorded_at=datetime.fromisoformat(str(item["recorded_at"])),
        )
    )
    if "leaf_hash" in item and item["leaf_hash"] != leaf.hex():
        return "the leaf hash shown is not the one the entry gives"
    size = int(checkpoint["tree_size"])
    if not 1 <= position <= size:
        return f"position {position} is outside the checkpoint's {size} entries"
    path = [bytes.fromhex(h) for h in item["inclusion_proof"]]
    root = bytes.fromhex(checkpoint["root_hash"])
    if not verify_inclusion(position - 1, size, leaf, path, root):
        return "the inclusion proof does not lead to the checkpoint's root"
    return None


def verify_consistency_json(document: Mapping[str, Any], keys: KeyRing) -> str | None:
    """None when a consistency document (GET /v1/checkpoints/consistency) holds; else why."""
    try:
        old, new = document["from"], document["to"]
        for checkpoint in (old, new):
            problem = verify_checkpoint_json(checkpoint, keys)
            if problem is not None:
                return f"checkpoint of size {checkpoint.get('tree_size')}: {problem}"
        if old["tenant"] != new["tenant"]:
            return "the two checkpoints belong to different tenants"
        path = [bytes.fromhex(h) for h in document["consistency_proof"]]
        holds = verify_consistency(
            int(old["tree_size"]),
            int(new["tree_size"]),
            bytes.fromhex(old["root_hash"]),
            bytes.fromhex(new["root_hash"]),
            path,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"malformed consistency document: {exc!r}"
    return None if holds else "the consistency proof does not hold"
