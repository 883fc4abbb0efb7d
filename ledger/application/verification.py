"""`ledger verify`: re-derive every hash of a store and compare it with what is stored.

Per tenant, in one pass over its ledger (O(log n) memory):
- every position from 1 to the end is present, and each row still decodes;
- each entry belongs to the tenant, its digest is the SHA-256 of its envelope's RFC 8785
  form (recomputed, never trusted), its entry hash follows from predecessor, position
  and digest, and its prev_hash is its predecessor's entry hash;
- the RFC 9162 tree head at each checkpoint's size equals the root the checkpoint signed,
  its tile roots are the recomputed ones, and no checkpoint covers more entries than the
  ledger holds (a cut-off tail);
- each checkpoint's Ed25519 signature verifies with the trusted key its key id names, and
  sequence numbers and sizes only grow.

What each check catches, against someone with write access to the database: an edited
envelope fails its digest, and an edited text kept as received fails unless it still
reads as the envelope (only the value is hashed); an edited digest fails its entry hash;
an edited entry hash breaks the next link; rows swapped, deleted or re-ordered break
positions and links; a chain rewritten consistently from position p on, or an edited
recording time, kind or stream, no longer gives the signed root of the first checkpoint
covering p; a forged or re-signed checkpoint fails its signature. What it cannot catch:
entries after the latest checkpoint removed together with nothing else, or whole
checkpoints deleted from the end; a text kept as received rewritten to another writing
of the same value (whitespace, key order, escapes); hand checkpoints (proof bundles) to a
third party to pin them.

The problems found and the reports that hold them are in verification_report.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.adapters.json_texts import reads_as
from ledger.adapters.signing import KeyRing, verify_signature
from ledger.adapters.store import EventStore
from ledger.adapters.store.rows import ENTRY_TOPIC
from ledger.application.sealing import CHECKPOINT_TOPIC, tenant_of_stream
from ledger.application.verification_report import Problem, StoreReport, TenantReport
from ledger.domain.chain import GENESIS_HASH, entry_hash
from ledger.domain.checkpoint import CheckpointSigned, checkpoint_stream_id, entry_leaf_hash
from ledger.domain.envelope import content_digest
from ledger.domain.events import EntryRecorded, ledger_stream_id
from ledger.domain.merkle import TILE_SIZE, CompactRange, perfect_root

Progress = Callable[[int], None]
PAGE = 2000


@dataclass(frozen=True, slots=True)
class TenantStreams:
    tenant: str
    ledger: UUID
    checkpoints: UUID


def discover(store: EventStore, tenant: str | None = None) -> list[TenantStreams]:
    """The tenants to verify: every ledger stream and every checkpoint stream, paired.

    A stream whose events name no tenant deriving its id is still verified, under a
    placeholder name, so that damage there is reported rather than skipped.
    """
    if tenant is not None:
        return [TenantStreams(tenant, ledger_stream_id(tenant), checkpoint_stream_id(tenant))]
    found: dict[str, TenantStreams] = {}
    for topic, stream_of in ((ENTRY_TOPIC, ledger_stream_id),
                             (CHECKPOINT_TOPIC, checkpoint_stream_id)):
        for stream_id in store.stream_ids(topic):
            name = tenant_of_stream(store, stream_id, stream_of)
            if name is None:
                name = f"<unknown tenant of stream {stream_id}>"
                found[name] = TenantStreams(name, stream_id, stream_id)
                continue
            found.setdefault(
                name, TenantStreams(name, ledger_stream_id(name), checkpoint_stream_id(name))
            )
    return [found[name] for name in sorted(found)]


def last_position(store: EventStore, stream_id: UUID) -> int:
    last = store.recorder.select_events(stream_id, desc=True, limit=1)
    return last[0].originator_version if last else 0


def verify_store(
    store: EventStore,
    keys: KeyRing,
    tenant: str | None = None,
    progress: Progress | None = None,
    on_tenant: Callable[[str, int], None] | None = None,
) -> StoreReport:
    """Verify every tenant (or one); `progress(n)` is called as entries are checked."""
    report = StoreReport()
    for streams in discover(store, tenant):
        if on_tenant is not None:
            on_tenant(streams.tenant, last_position(store, streams.ledger))
        report.tenants.append(verify_tenant(store, streams, keys, progress))
    return report


def verify_tenant(
    store: EventStore, streams: TenantStreams, keys: KeyRing, progress: Progress | None = None
) -> TenantReport:
    report = TenantReport(streams.tenant)
    checkpoints = _load_checkpoints(store, streams, keys, report)
    report.checkpoints = len(checkpoints)
    report.sealed = max((c.tree_size for c in checkpoints), default=0)
    _walk_ledger(store, streams, checkpoints, report, progress)
    return report


def _load_checkpoints(
    store: EventStore, streams: TenantStreams, keys: KeyRing, report: TenantReport
) -> list[CheckpointSigned]:
    """Decode, sequence-check and signature-check the checkpoints; keep the readable ones."""
    tenant = streams.tenant
    kept: list[CheckpointSigned] = []
    expected, previous_size = 1, 0
    for stored in store.stored_events(streams.checkpoints):
        sequence = stored.originator_version
        if sequence != expected:
            report.add(Problem(tenant, None, "checkpoint-missing",
                               f"checkpoints #{expected}..#{sequence - 1} are missing",
                               checkpoint=expected))
        expected = sequence + 1
        try:
            checkpoint = store.decode(stored)
            if not isinstance(checkpoint, CheckpointSigned):
                raise TypeError(f"a {type(checkpoint).__name__} in the checkpoint stream")
            body = checkpoint.body()
            message = body.canonical()
            first_covered = previous_size + 1
        except Exception as exc:
            report.add(Problem(tenant, None, "checkpoint-unreadable",
                               f"checkpoint #{sequence} cannot be read: {exc}",
                               checkpoint=sequence))
            continue
        if checkpoint.tenant != tenant:
            report.add(Problem(tenant, first_covered, "checkpoint-tenant",
                               f"checkpoint #{sequence} names tenant {checkpoint.tenant!r}",
                               checkpoint=sequence, last=checkpoint.tree_size))
        why = verify_signature(keys, checkpoint.key_id, message, checkpoint.signature)
        if why is not None:
            report.add(Problem(tenant, first_covered, "signature",
                               f"checkpoint #{sequence} (entries {first_covered}.."
                               f"{checkpoint.tree_size}): {why}", checkpoint=sequence,
                               last=checkpoint.tree_size))
        if checkpoint.tree_size <= previous_size:
            report.add(Problem(tenant, checkpoint.tree_size, "checkpoint-order",
                               f"checkpoint #{sequence} covers {checkpoint.tree_size} entries, "
                               f"fewer than the {previous_size} of the one before",
                               checkpoint=sequence))
            continue
        previous_size = checkpoint.tree_size
        kept.append(checkpoint)
    return kept


def _rows(store: EventStore, stream_id: UUID) -> Iterator[StoredEvent]:
    after = 0
    while True:
        page = store.stored_events(stream_id, after=after, limit=PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].originator_version


def _walk_ledger(
    store: EventStore,
    streams: TenantStreams,
    checkpoints: Sequence[CheckpointSigned],
    report: TenantReport,
    progress: Progress | None,
) -> None:
    tenant = streams.tenant
    pending = list(checkpoints)  # ascending tree sizes
    tree = CompactRange()
    tiles: list[bytes] = []
    tile: list[bytes] = []
    tree_ok = True  # false once a leaf is missing: later roots cannot be compared
    expected = 1
    prev_hash: str | None = GENESIS_HASH  # None: the predecessor is unknown (missing)
    since_progress = 0
    last_matched = 0
    for stored in _rows(store, streams.ledger):
        position = stored.originator_version
        if position != expected:
            gap = f"{expected}" if position == expected + 1 else f"{expected}..{position - 1}"
            report.add(Problem(tenant, expected, "missing",
                               f"position {gap} is missing: the ledger goes from "
                               f"{expected - 1} to {position}"))
            tree_ok, prev_hash = False, None
        expected = position + 1
        entry, leaf = _check_entry(store, stored, tenant, prev_hash, report)
        prev_hash = entry.entry_hash if entry is not None else None
        if leaf is None:
            tree_ok = False
        elif tree_ok:
            tree.append(leaf)
            tile.append(leaf)
            if len(tile) == TILE_SIZE:
                tiles.append(perfect_root(tile))
                tile = []
            while pending and tree_ok and pending[0].tree_size == tree.size:
                checkpoint = pending.pop(0)
                _compare_root(checkpoint, tree, last_matched, report)
                last_matched = checkpoint.tree_size
        since_progress += 1
        if progress is not None and since_progress >= 500:
            progress(since_progress)
            since_progress = 0
    if progress is not None and since_progress:
        progress(since_progress)
    report.entries = expected - 1
    for checkpoint in pending:
        if checkpoint.tree_size > report.entries:
            report.add(Problem(tenant, report.entries + 1, "truncated",
                               f"checkpoint #{checkpoint.sequence} covers {checkpoint.tree_size} "
                               f"entries but the ledger ends at position {report.entries}: "
                               f"positions {report.entries + 1}..{checkpoint.tree_size} were "
                               "removed", checkpoint=checkpoint.sequence))
            break
        if tree_ok:
            continue
        report.add(Problem(tenant, None, "unchecked",
                           f"checkpoint #{checkpoint.sequence}'s root was not compared: an "
                           "earlier problem broke the tree", checkpoint=checkpoint.sequence))
    _compare_tiles(checkpoints, tiles, tree_ok, report)


def _check_entry(
    store: EventStore, stored: StoredEvent, tenant: str, prev_hash: str | None,
    report: TenantReport,
) -> tuple[EntryRecorded | None, bytes | None]:
    """Check one row; returns the entry (if readable) and its leaf hash (if it has one)."""
    position = stored.originator_version
    try:
        entry = store.decode(stored)
        if not isinstance(entry, EntryRecorded):
            raise TypeError(f"a {type(entry).__name__} in the ledger stream")
        stored_hash, digest, envelope = entry.entry_hash, entry.digest, entry.envelope
        entry_tenant, stored_prev = entry.tenant, entry.prev_hash
    except Exception as exc:
        report.add(Problem(tenant, position, "unreadable",
                           f"position {position}: the stored entry cannot be read ({exc})"))
        return None, None
    try:
        if entry_tenant != tenant or envelope.get("tenant") != tenant:
            report.add(Problem(tenant, position, "tenant",
                               f"position {position}: the entry names tenant "
                               f"{entry_tenant!r} / {envelope.get('tenant')!r}"))
        if content_digest(envelope) != digest:
            report.add(Problem(tenant, position, "digest",
                               f"position {position}: the envelope was altered (its RFC 8785 "
                               "digest is not the recorded one)"))
        if entry.received is not None and not reads_as(entry.received, digest):
            report.add(Problem(tenant, position, "received",
                               f"position {position}: the text kept as received was altered "
                               "(it does not read as the envelope)"))
        if entry_hash(stored_prev, position, digest) != stored_hash:
            report.add(Problem(tenant, position, "entry-hash",
                               f"position {position}: the entry hash does not follow from its "
                               "predecessor, position and digest (entry altered or moved)"))
        if prev_hash is not None and stored_prev != prev_hash:
            report.add(Problem(tenant, position, "link",
                               f"position {position}: not linked to position {position - 1} "
                               "(its prev_hash is not that entry's hash)"))
        return entry, entry_leaf_hash(entry)
    except Exception as exc:
        report.add(Problem(tenant, position, "malformed",
                           f"position {position}: the stored entry is malformed ({exc!r})"))
        return entry, None


def _compare_root(
    checkpoint: CheckpointSigned, tree: CompactRange, last_matched: int, report: TenantReport
) -> None:
    if tree.root().hex() == checkpoint.root_hash:
        return
    first = last_matched + 1
    report.add(Problem(
        report.tenant, first, "root",
        f"checkpoint #{checkpoint.sequence} signed a different tree for entries 1.."
        f"{checkpoint.tree_size}: an entry in positions {first}..{checkpoint.tree_size} was "
        "changed after it was signed (a consistent rewrite, or its recording time, kind or "
        "stream)", checkpoint=checkpoint.sequence, last=checkpoint.tree_size,
    ))


def _compare_tiles(
    checkpoints: Sequence[CheckpointSigned], tiles: Sequence[bytes], tree_ok: bool,
    report: TenantReport,
) -> None:
    """The unsigned tile roots that proofs are built from must be the recomputed ones."""
    start = 0
    for checkpoint in checkpoints:
        end = checkpoint.tree_size // TILE_SIZE
        if not tree_ok and end > len(tiles):
            return
        stored = list(checkpoint.tiles)
        if stored != [t.hex() for t in tiles[start:end]]:
            report.add(Problem(
                report.tenant, start * TILE_SIZE + 1, "tiles",
                f"checkpoint #{checkpoint.sequence}'s tile roots are not those of the "
                "stored entries (proofs from this store would fail)",
                checkpoint=checkpoint.sequence, last=checkpoint.tree_size,
            ))
        start = end
