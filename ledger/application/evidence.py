"""Self-contained proof bundles: entries, their inclusion proofs, the signed checkpoint.

A bundle is what an auditor takes away: with only the ledger's public key, and none of
our code or database, they can check that each entry is in the tenant's ledger exactly as
shown. `GET /v1/proofs/{event_id}` answers with a bundle of one entry; evidence exports
embed one for their events (`bundle_for`); `ledger verify-evidence` checks one offline
(`verify_bundle`, in evidence_check.py). The JSON layout:

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

from collections.abc import Sequence
from typing import Any

from ledger.adapters.store import EventStore
from ledger.application.transparency import note_of
from ledger.domain.checkpoint import CheckpointSigned, entry_leaf_hash, rfc3339_utc
from ledger.domain.events import EntryRecorded
from ledger.domain.merkle import (
    TILE_SIZE,
    TiledTree,
    consistency_path,
    inclusion_path,
    verify_consistency,
    verify_inclusion,
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
