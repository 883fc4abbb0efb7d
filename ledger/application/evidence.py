"""Self-contained proof bundles: entries, their inclusion proofs, the signed checkpoint.

A bundle is what an auditor takes away: with only the ledger's public key, and none of
our code or database, they can check that each entry is in the tenant's ledger exactly as
shown. `GET /v1/proofs/{event_id}` answers with a bundle of one entry; evidence exports
embed one for their events (`bundle_for`); `ledger verify-evidence` checks one offline
(`verify_bundle`). The JSON layout:

    {"format": "ledger-proofs/v1",
     "tenant": "acme",
     "algorithms": {...how each hash is made, for a reader without our code...},
     "checkpoint": {"format": "ledger-checkpoint/v1", "tenant", "tree_size", "root_hash",
                    "timestamp", "key_id", "sequence", "signature"},
     "entries": [{"position", "recorded_at", "kind", "stream", "envelope", "digest",
                  "prev_hash", "entry_hash", "leaf_hash", "inclusion_proof": [hex, ...],
                  "received" (when kept: the event's text as it arrived)}]}

Checking an entry: digest = SHA-256(RFC 8785(envelope)); entry_hash from prev_hash,
position and digest (chain.py); the leaf from the entry (checkpoint.py); the inclusion
proof (RFC 9162, leaf index = position - 1, tree size = the checkpoint's) must lead to the
checkpoint's root; the checkpoint's Ed25519 signature must verify with the key it names.
`received`, when shown, must read as the envelope (the same canonical JSON): the hash
covers the envelope's value, and the text is that value as the producer wrote it.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.adapters.json_texts import reads_as
from ledger.adapters.notes import raw_public, verify_note
from ledger.adapters.signing import KeyRing, verify_signature
from ledger.adapters.store import EventStore
from ledger.application.transparency import note_of
from ledger.domain.chain import entry_hash
from ledger.domain.checkpoint import (
    CheckpointSigned,
    body_from_dict,
    entry_leaf_hash,
    leaf_bytes,
    rfc3339_utc,
)
from ledger.domain.envelope import content_digest
from ledger.domain.events import EntryRecorded
from ledger.domain.merkle import (
    TILE_SIZE,
    TiledTree,
    consistency_path,
    inclusion_path,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.domain.signed_note import (
    ED25519,
    NoteFormatError,
    VerifierKey,
    key_id,
    parse_note,
    parse_tree_head,
)
from ledger.errors import LedgerError

BUNDLE_FORMAT = "ledger-proofs/v1"

ALGORITHMS = {
    "digest": "SHA-256 of the RFC 8785 canonical JSON of the envelope",
    "entry_hash": "SHA-256('ledger-entry-v1' 0x00 || prev_hash || uint64_be(position) || digest)",
    "leaf": (
        "'ledger-leaf-v1' 0x00 || uint64_be(position) || entry_hash || str(tenant) || "
        "str(kind) || str(stream) || str(recorded_at), str(s) = uint32_be(len) || utf8(s)"
    ),
    "tree": "RFC 9162 Merkle tree, SHA-256; leaf index = position - 1",
    "checkpoint": "Ed25519 over the RFC 8785 canonical JSON of the checkpoint without "
    "'sequence' and 'signature'",
    "received": "when an entry has it: the event's JSON text as received; its RFC 8785 "
    "canonical JSON is the envelope's",
}


class NotSealedError(LedgerError):
    """The entry is not covered by a signed checkpoint yet; it will be at the next one."""

    code = "not-sealed"


class StoreDamagedError(LedgerError):
    """The stored tree data does not lead to the signed root; `ledger verify` says where."""

    code = "store-damaged"


# --- building ------------------------------------------------------------------------


def entry_json(entry: EntryRecorded) -> dict[str, Any]:
    """An entry as bundles and API answers show it (with the event's text as received,
    when the ledger has it)."""
    shown = {
        "position": entry.position,
        "recorded_at": rfc3339_utc(entry.timestamp),
        "kind": entry.kind,
        "stream": entry.stream,
        "envelope": entry.envelope,
        "digest": entry.digest,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }
    if entry.received is not None:
        shown["received"] = entry.received
    return shown


class Prover:
    """Builds proofs from the store, against the tenant's latest signed checkpoint.

    Reads only the checkpoint stream (for its tile roots) and at most two tiles of
    entries per proof, so a proof costs the same in a ledger of a hundred entries or of
    millions. Every proof is checked against the signed root before it is handed out:
    damaged tree data raises `StoreDamagedError` instead of yielding a bogus proof.
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def _tree(self, tenant: str, checkpoints: Sequence[CheckpointSigned]) -> TiledTree:
        size = checkpoints[-1].tree_size
        try:
            tiles = [bytes.fromhex(t) for c in checkpoints for t in c.tiles][: size // TILE_SIZE]
        except (TypeError, ValueError) as exc:
            raise StoreDamagedError(f"tenant {tenant!r}: unreadable tile roots ({exc})") from exc
        if len(tiles) != size // TILE_SIZE:
            raise StoreDamagedError(
                f"tenant {tenant!r}: {len(tiles)} tile roots stored for {size} entries; run "
                "`ledger verify`"
            )

        def tile_leaves(tile: int) -> list[bytes]:
            first = tile * TILE_SIZE
            count = min(TILE_SIZE, size - first)
            entries = self.store.entries(tenant, after=first, limit=count)
            if [e.position for e in entries] != list(range(first + 1, first + count + 1)):
                raise StoreDamagedError(f"tenant {tenant!r}: entries of tile {tile} are missing")
            return [entry_leaf_hash(e) for e in entries]

        return TiledTree(size, tiles, tile_leaves)

    def latest(self, tenant: str) -> list[CheckpointSigned]:
        checkpoints = self.store.checkpoints(tenant)
        if not checkpoints:
            raise NotSealedError(f"tenant {tenant!r} has no signed checkpoint yet")
        return checkpoints

    def bundle(self, tenant: str, entries: Sequence[EntryRecorded]) -> dict[str, Any]:
        """A bundle proving `entries` against the tenant's latest checkpoint."""
        checkpoints = self.latest(tenant)
        checkpoint = checkpoints[-1]
        unsealed = [e.position for e in entries if e.position > checkpoint.tree_size]
        if unsealed:
            raise NotSealedError(
                f"position {unsealed[0]} is not covered yet: the latest checkpoint "
                f"(#{checkpoint.sequence}) covers {checkpoint.tree_size} entries"
            )
        tree = self._tree(tenant, checkpoints)
        root = bytes.fromhex(checkpoint.root_hash)
        items = []
        for entry in sorted(entries, key=lambda e: e.position):
            leaf = entry_leaf_hash(entry)
            path = inclusion_path(entry.position - 1, tree.size, tree.subtree)
            if not verify_inclusion(entry.position - 1, tree.size, leaf, path, root):
                raise StoreDamagedError(
                    f"tenant {tenant!r}: the proof of position {entry.position} does not lead "
                    f"to checkpoint #{checkpoint.sequence}'s root; run `ledger verify`"
                )
            items.append(
                {**entry_json(entry), "leaf_hash": leaf.hex(), "inclusion_proof": hexes(path)}
            )
        return {
            "format": BUNDLE_FORMAT,
            "tenant": tenant,
            "algorithms": ALGORITHMS,
            "checkpoint": checkpoint.as_dict(),
            # The same checkpoint as a C2SP signed note, with witnesses' cosignatures.
            "signed_note": note_of(self.store, checkpoint),
            "entries": items,
        }

    def consistency(self, tenant: str, first: int, second: int | None = None) -> dict[str, Any]:
        """Proof that checkpoint of size `first` is a prefix of that of size `second`."""
        checkpoints = self.latest(tenant)
        by_size = {c.tree_size: c for c in checkpoints}
        second = second if second is not None else checkpoints[-1].tree_size
        old, new = by_size.get(first), by_size.get(second)
        if old is None or new is None:
            missing = first if old is None else second
            raise LookupError(f"tenant {tenant!r} has no checkpoint of size {missing}")
        upto = [c for c in checkpoints if c.sequence <= new.sequence]
        tree = self._tree(tenant, upto)
        path = consistency_path(first, second, tree.subtree) if first > 0 else []
        if not verify_consistency(
            first, second, bytes.fromhex(old.root_hash), bytes.fromhex(new.root_hash), path
        ):
            raise StoreDamagedError(
                f"tenant {tenant!r}: no consistency between checkpoints of sizes {first} and "
                f"{second} can be built from the store; run `ledger verify`"
            )
        return {
            "format": "ledger-consistency/v1",
            "tenant": tenant,
            "from": old.as_dict(),
            "to": new.as_dict(),
            "consistency_proof": hexes(path),
        }


def resolve_event(store: EventStore, tenant: str, ref: str) -> list[EntryRecorded]:
    """The entries an event reference names: `id`, or `source#id` (docs/domain-rules.md,
    Case operations).

    A plain id is looked up first (an id may itself contain '#'); more than one entry
    means several sources used that id, and the caller should ask for `source#id`.
    """
    found = store.find_entries(tenant, event_id=ref)
    if found:
        return found
    for at, char in enumerate(ref):
        if char == "#" and 0 < at < len(ref) - 1:
            found = store.find_entries(tenant, event_id=ref[at + 1 :], source=ref[:at])
            if found:
                return found
    return []


def hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def bundle_for(store: EventStore, tenant: str, entries: Sequence[EntryRecorded]) -> dict[str, Any]:
    """The proof bundle an evidence export embeds for its entries."""
    return Prover(store).bundle(tenant, entries)


# --- checking, offline ---------------------------------------------------------------


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
