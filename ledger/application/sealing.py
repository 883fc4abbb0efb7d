"""Signed checkpoints: who writes them, when, and how they extend the previous one.

Checkpoints are written from the append path. `Ledger` calls `Sealer.after_append` with
the outcomes of every committed batch (inbound or derived); a tenant whose ledger grew
by `checkpoint_every` entries since its last checkpoint, or whose last checkpoint is
older than `checkpoint_interval_s` while entries were added since (or that has none yet),
gets a new checkpoint at once, in its own transaction right after the batch's. A crash
in between loses nothing that cannot be redone: a checkpoint only states what the ledger
already holds, and the next batch, the next sweep or `ledger checkpoint` writes it.

Quiet tenants: the interval rule can only fire when something runs. Each call also
seals the other tenants this process wrote to that have become due, and `ledger
checkpoint --watch SECONDS` sweeps every tenant of the store (for a deployment where a
tenant may go quiet right after a write, run it beside the API and consumers).

Two processes may race for a tenant's next checkpoint: the checkpoint stream's version
is its sequence number, so the store refuses the second, which simply reloads.

What gets signed: the leaves of the entries this process saw committed come from the
committed events themselves (no read-back: what it signs is what it wrote, whatever
happens to the rows afterwards). Entries it did not see (other writers, or from before a
restart) are read from the store, their chain links checked and the previous checkpoint's
root recomputed from them first: the sealer never signs over damage it can see, it
refuses, loudly, and `ledger verify` says where.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.utils import get_topic

from ledger.adapters.clock import Clock
from ledger.adapters.notes import raw_public, sign_note
from ledger.adapters.signing import MissingSigningKeyError, Signer, load_signer, signer_configured
from ledger.adapters.store import AppendConflict, EventStore
from ledger.adapters.store.rows import ENTRY_TOPIC
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.chain import entry_hash
from ledger.domain.checkpoint import (
    CheckpointBody,
    CheckpointSigned,
    SigningKeyAnnounced,
    checkpoint_stream_id,
    entry_leaf_hash,
    signing_keys_stream_id,
)
from ledger.domain.events import EntryRecorded, ledger_stream_id
from ledger.domain.merkle import TILE_SIZE, TiledTree, tile_roots
from ledger.domain.recording import Outcome, Status
from ledger.domain.signed_note import DEFAULT_ORIGIN_PREFIX, TreeHead, origin_for
from ledger.errors import LedgerError

CHECKPOINT_TOPIC = get_topic(CheckpointSigned)
log = logging.getLogger(__name__)


class LedgerDamagedError(LedgerError):
    """The stored ledger contradicts itself or its last checkpoint; nothing was signed."""

    code = "ledger-damaged"


@dataclass(slots=True)
class _Sealed:
    """What this process knows of a tenant's checkpoints (reloaded on any doubt)."""

    last: CheckpointSigned | None = None
    tiles: list[bytes] = field(default_factory=list)  # roots of the complete tiles
    tail: list[bytes] | None = None  # leaves of the incomplete tile up to `size`; None: unknown
    fresh: dict[int, bytes] = field(default_factory=dict)  # leaves recorded here after `size`
    head: int = 0  # highest position this process has seen recorded

    @property
    def size(self) -> int:
        return self.last.tree_size if self.last else 0


class Sealer:
    """Writes a tenant's next signed checkpoint when it is due.

    Leaves of the entries this process commits are taken from the committed events
    themselves, so sealing what it wrote costs no read-back; entries written by other
    processes (or before a restart) are read from the store and their links checked.
    """

    def __init__(
        self,
        store: EventStore,
        signer: Signer,
        clock: Clock,
        every: int,
        interval: timedelta,
        origin_prefix: str = DEFAULT_ORIGIN_PREFIX,
    ) -> None:
        self.store = store
        self.origin_prefix = origin_prefix
        self._key_announced = False
        self.signer = signer
        self.clock = clock
        self.every = every
        self.interval = interval
        self._lock = threading.Lock()
        self._tenants: dict[str, _Sealed] = {}

    # --- entry points -------------------------------------------------------------------

    def after_append(
        self, outcomes: Sequence[Outcome], events: Sequence[object] = ()
    ) -> None:
        """Ledger hook: seal what became due. Never raises: the batch is committed."""
        try:
            with self._lock:
                now = self.clock()
                for outcome in outcomes:
                    if outcome.status is Status.RECORDED and outcome.tenant and outcome.position:
                        state = self._state(outcome.tenant)
                        state.head = max(state.head, outcome.position)
                for event in events:
                    if isinstance(event, EntryRecorded):
                        self._remember(event)
                for tenant, state in list(self._tenants.items()):
                    if self._due(state, state.head, now):
                        try:
                            self._seal(tenant, now)
                        except AppendConflict:
                            log.debug("another process sealed %s first", tenant)
        except Exception:
            log.exception("checkpoint after append failed; the next append or sweep retries")

    def seal(self, tenant: str, *, force: bool = True) -> CheckpointSigned | None:
        """Checkpoint `tenant` now (force) or if due; None when nothing is new or not due."""
        with self._lock:
            now = self.clock()
            state = self._state(tenant)
            head = self.store.head(tenant).position
            state.head = max(state.head, head)
            if head <= state.size or not (force or self._due(state, head, now)):
                return None
            return self._seal(tenant, now)

    def sweep(self, *, force: bool = False) -> list[CheckpointSigned]:
        """Seal every tenant of the store that is due (or has unsealed entries, if force)."""
        written: list[CheckpointSigned] = []
        for tenant in tenants(self.store):
            try:
                checkpoint = self.seal(tenant, force=force)
            except AppendConflict:
                continue
            if checkpoint is not None:
                written.append(checkpoint)
        return written

    # --- the rule -----------------------------------------------------------------------

    def _due(self, state: _Sealed, head: int, now: datetime) -> bool:
        if head <= state.size:
            return False
        if state.last is None or head - state.size >= self.every:
            return True
        return now - state.last.timestamp >= self.interval

    # --- writing ------------------------------------------------------------------------

    def _state(self, tenant: str) -> _Sealed:
        state = self._tenants.get(tenant)
        if state is None:
            checkpoints = self.store.checkpoints(tenant)
            state = _Sealed(
                last=checkpoints[-1] if checkpoints else None,
                tiles=[bytes.fromhex(t) for c in checkpoints for t in c.tiles],
                tail=None if checkpoints else [],
            )
            self._tenants[tenant] = state
        return state

    def _remember(self, entry: EntryRecorded) -> None:
        state = self._state(entry.tenant)
        if entry.position > state.size and len(state.fresh) < _MAX_FRESH:
            state.fresh[entry.position] = entry_leaf_hash(entry)

    def _leaves(self, tenant: str, state: _Sealed, head: int) -> list[bytes]:
        """Leaf hashes from the start of the incomplete tile at `size` up to `head`.

        From memory when this process saw them; else read, link-checked, and (for the
        part already signed) checked against the last checkpoint's root, so the sealer
        never signs over damage it can see.
        """
        size, first = state.size, state.size // TILE_SIZE * TILE_SIZE
        new = [state.fresh.get(p) for p in range(size + 1, head + 1)]
        if state.tail is not None and all(leaf is not None for leaf in new):
            return [*state.tail, *(leaf for leaf in new if leaf is not None)]
        entries = list(_entries_between(self.store, tenant, first, head))
        _check_links(tenant, entries, first + 1, head)
        leaves = [entry_leaf_hash(e) for e in entries]
        if state.last is not None:
            tail = leaves[: size - first]
            before = TiledTree(size, state.tiles, lambda _tile: tail).root()
            if before.hex() != state.last.root_hash:
                raise LedgerDamagedError(
                    f"tenant {tenant!r}: the stored entries no longer give the root signed by "
                    f"checkpoint #{state.last.sequence}; refusing to sign over them; run "
                    f"`ledger verify --tenant {tenant}`"
                )
        return leaves

    def _seal(self, tenant: str, now: datetime) -> CheckpointSigned | None:
        state = self._state(tenant)
        head = self.store.head(tenant).position
        if head <= state.size:
            return None
        if len(state.tiles) != state.size // TILE_SIZE:
            raise LedgerDamagedError(
                f"tenant {tenant!r}: the checkpoints hold {len(state.tiles)} tile roots for "
                f"{state.size} entries; run `ledger verify --tenant {tenant}`"
            )
        first_tile = state.size // TILE_SIZE
        leaves = self._leaves(tenant, state, head)
        new_tiles = tile_roots(leaves)
        tiles = state.tiles + new_tiles
        partial = leaves[len(new_tiles) * TILE_SIZE :]
        root = TiledTree(head, tiles, lambda _tile: partial).root().hex()
        body = CheckpointBody(tenant, head, root, now, self.signer.key_id)
        checkpoint = CheckpointSigned(
            originator_id=checkpoint_stream_id(tenant),
            originator_version=(state.last.sequence if state.last else 0) + 1,
            timestamp=now,
            tenant=tenant,
            tree_size=head,
            root_hash=root,
            key_id=self.signer.key_id,
            signature=self.signer.sign(body.canonical()),
            tiles=[t.hex() for t in new_tiles],
            **self._note(tenant, head, root),
        )
        self._announce_key(now)
        try:
            self.store.append([checkpoint])
        except AppendConflict:
            # Another process sealed first: forget what we knew, reload next time.
            self._tenants.pop(tenant, None)
            raise
        state.last, state.tiles, state.tail = checkpoint, tiles, partial
        state.fresh = {p: leaf for p, leaf in state.fresh.items() if p > head}
        log.info("checkpoint #%d of %s: %d entries (tile %d on)", checkpoint.sequence, tenant,
                 head, first_tile)
        return checkpoint


    def _announce_key(self, now: datetime) -> None:
        """Publish the signing key before its first checkpoint (GET /v1/keys lists them)."""
        if self._key_announced:
            return
        stream = signing_keys_stream_id()
        announced = [e for e in self.store.stream_events(stream)
                     if isinstance(e, SigningKeyAnnounced)]
        if not announced or announced[-1].key_id != self.signer.key_id:
            raw = raw_public(self.signer.public_key)
            event = SigningKeyAnnounced(stream, len(announced) + 1, now, self.signer.key_id,
                                        base64.b64encode(raw).decode())
            with contextlib.suppress(AppendConflict):  # another process announced it
                self.store.append([event])
        self._key_announced = True

    def _note(self, tenant: str, size: int, root: str) -> dict[str, str]:
        """The C2SP form of the same statement, signed under the key name of its origin."""
        origin = origin_for(self.origin_prefix, tenant)
        text = TreeHead(origin, size, bytes.fromhex(root)).note_text()
        signature = sign_note(self.signer.private_key, origin, text).signature
        return {"origin": origin, "note_signature": base64.b64encode(signature).decode()}


#: Leaves kept in memory per tenant between checkpoints; beyond, they are read back.
_MAX_FRESH = 1_000_000


def _entries_between(
    store: EventStore, tenant: str, after: int, last: int
) -> Iterator[EntryRecorded]:
    for entry in store.iter_entries(tenant, after=after):
        if entry.position > last:
            return
        yield entry


def _check_links(tenant: str, entries: Sequence[EntryRecorded], first: int, last: int) -> None:
    """Positions first..last all present, each entry's hash right and linked to the previous."""
    expected, prev = first, None
    for entry in entries:
        if entry.position != expected:
            raise LedgerDamagedError(
                f"tenant {tenant!r}: position {expected} is missing; refusing to sign"
            )
        if prev is not None and entry.prev_hash != prev:
            raise LedgerDamagedError(
                f"tenant {tenant!r}: entry {expected} is not linked to its predecessor; "
                "refusing to sign"
            )
        if entry.entry_hash != entry_hash(entry.prev_hash, entry.position, entry.digest):
            raise LedgerDamagedError(
                f"tenant {tenant!r}: entry {expected} has a wrong hash; refusing to sign"
            )
        prev, expected = entry.entry_hash, expected + 1
    if expected != last + 1:
        raise LedgerDamagedError(f"tenant {tenant!r}: position {expected} is missing")


def tenants(store: EventStore) -> list[str]:
    """Every tenant with a ledger in the store (read from each ledger stream's entries)."""
    names: list[str] = []
    for stream_id in store.stream_ids(ENTRY_TOPIC):
        name = tenant_of_stream(store, stream_id, ledger_stream_id)
        if name is not None:
            names.append(name)
    return sorted(names)


def tenant_of_stream(
    store: EventStore, stream_id: UUID, stream_of: Callable[[str], UUID], probe: int = 10
) -> str | None:
    """The tenant whose stream this is, from the first of its events that says so.

    A name is believed only if it derives this very stream id (`stream_of(name)`), so a
    damaged or edited first row cannot make a ledger pass for another tenant's.
    """
    for stored in store.stored_events(stream_id, limit=probe):
        try:
            name = getattr(store.decode(stored), "tenant", None)
        except Exception:  # a damaged row: verification reports it, here we look further
            continue
        if isinstance(name, str) and stream_of(name) == stream_id:
            return name
    return None


def install_sealer(ledger: Ledger, settings: Settings) -> Sealer | None:
    """Make `ledger` sign checkpoints after its appends, if a signing key is configured.

    Without a key the ledger still records and hash-chains every entry, but nothing is
    signed: a warning says so, and with LEDGER_SIGNING_REQUIRED=1 it is an error instead.
    """
    if not signer_configured(settings):
        if settings.signing_required:
            raise MissingSigningKeyError()
        log.warning(
            "no signing key configured (LEDGER_SIGNING_KEY_FILE): entries are hash-chained "
            "but no checkpoint is signed; see docs/operations.md, Keys and checkpoints"
        )
        return None
    _warn_if_beside_the_data(settings)
    sealer = Sealer(
        ledger.store,
        load_signer(settings),
        ledger.clock,
        settings.checkpoint_every,
        timedelta(seconds=settings.checkpoint_interval_s),
        settings.log_origin_prefix,
    )
    ledger.after_append.append(sealer.after_append)
    return sealer


def _warn_if_beside_the_data(settings: Settings) -> None:
    """A key stored with the database lets one intruder rewrite history and re-sign it."""
    key_file = settings.signing_key_file
    if key_file is None:
        return
    home = settings.home.resolve()
    if key_file.resolve().is_relative_to(home):
        log.warning(
            "SIGNING KEY BESIDE THE DATA: %s is inside LEDGER_HOME (%s); whoever can read "
            "the store can then rewrite and re-sign it. Keep the key elsewhere (a secret "
            "mount), and run a witness (`ledger witness`)", key_file, home,
        )
