"""The ledger against checkpoints it handed out earlier (kept by auditors or a witness).

Whoever holds the database and the signing key can rewrite history and re-sign it; the
store then agrees with itself and every check of the store alone passes. What they cannot
change is a checkpoint someone else kept. Each kept checkpoint must still be a prefix of
the ledger: its tree size no larger than the ledger's, and the root of the ledger's first
`tree_size` entries equal to its root. The checkpoint's own signature is checked too, with
the trusted keys, so a forged "earlier checkpoint" proves nothing either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.adapters.notes import raw_public, verify_note
from ledger.adapters.store import EventStore
from ledger.adapters.store.rows import RECEIPT_TOPIC
from ledger.domain.checkpoint import entry_leaf_hash
from ledger.domain.events import ReceiptIssued
from ledger.domain.merkle import mth
from ledger.domain.signed_note import (
    ED25519,
    NoteFormatError,
    VerifierKey,
    key_id,
    parse_note,
    parse_tree_head,
)


@dataclass(frozen=True)
class HandedOutCheck:
    source: str  # where the checkpoint came from (a file name)
    origin: str
    tree_size: int
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def tenant_of_origin(origin: str) -> str:
    return origin.rsplit("/", 1)[-1]


def _trusted(origin: str, keys: Iterable[Ed25519PublicKey]) -> list[VerifierKey]:
    out = []
    for public in keys:
        raw = raw_public(public)
        out.append(VerifierKey(origin, key_id(origin, ED25519, raw), ED25519, raw))
    return out


def root_of_prefix(store: EventStore, tenant: str, size: int) -> bytes | None:
    """RFC 9162 root of the tenant's first `size` entries; None if it has fewer."""
    leaves = []
    for entry in store.iter_entries(tenant):
        if entry.position > size:
            break
        leaves.append(entry_leaf_hash(entry))
    return mth(leaves) if len(leaves) == size else None


def check_handed_out(
    store: EventStore,
    notes: Sequence[tuple[str, str]],
    keys: Mapping[str, Ed25519PublicKey],
) -> list[HandedOutCheck]:
    """Check each (source, signed note) against the ledger."""
    return [_check(store, source, text, keys) for source, text in notes]


def _check(
    store: EventStore, source: str, text: str, keys: Mapping[str, Ed25519PublicKey]
) -> HandedOutCheck:
    try:
        note = parse_note(text)
        head = parse_tree_head(note.text)
    except NoteFormatError as exc:
        return HandedOutCheck(source, "?", 0, f"not a signed checkpoint: {exc}")
    def result(problem: str | None) -> HandedOutCheck:
        return HandedOutCheck(source, head.origin, head.tree_size, problem)

    if not keys:
        return result("no trusted key to check its signature with")
    signature = verify_note(note, _trusted(head.origin, keys.values()))
    if not signature.ok:
        return result(f"its signature: {signature.problem}")
    tenant = tenant_of_origin(head.origin)
    stored = store.head(tenant).position
    if stored < head.tree_size:
        return result(
            f"the ledger of {tenant!r} has {stored} entries, fewer than the {head.tree_size} "
            "this checkpoint covered: entries were removed"
        )
    root = root_of_prefix(store, tenant, head.tree_size)
    if root != head.root_hash:
        return result(
            f"the ledger's first {head.tree_size} entries of {tenant!r} no longer give the "
            "root this checkpoint signed: history was rewritten"
        )
    return result(None)


def check_receipts(store: EventStore, tenant: str | None = None) -> list[str]:
    """Each idempotency receipt must name the entry it was issued for, with its digest.

    After a rewrite of the entries alone, receipts keep the old digests: a cheap tell.
    """
    wanted: dict[str, dict[int, ReceiptIssued]] = {}
    for event in store.events_of_topic(RECEIPT_TOPIC):
        if isinstance(event, ReceiptIssued) and tenant in (None, event.tenant):
            wanted.setdefault(event.tenant, {})[event.position] = event
    problems = []
    for name, receipts in sorted(wanted.items()):
        for entry in store.iter_entries(name):
            receipt = receipts.pop(entry.position, None)
            if receipt is None:
                continue
            if (receipt.digest, receipt.source, receipt.event_id) != (
                    entry.digest, entry.source, entry.event_id):
                problems.append(
                    f"{name} position {entry.position}: its receipt was issued for "
                    f"{receipt.source}#{receipt.event_id} with digest {receipt.digest[:16]}..., "
                    f"the entry now holds {entry.source}#{entry.event_id} with digest "
                    f"{entry.digest[:16]}..."
                )
        problems.extend(
            f"{name} position {position}: a receipt for {r.source}#{r.event_id} names an "
            "entry that does not exist" for position, r in sorted(receipts.items())
        )
    return problems
