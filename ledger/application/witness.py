"""A witness: cosigns a log's checkpoint only if it extends every checkpoint it saw before.

The ledger's own key cannot prove that history was not rewritten by whoever holds that
key and the database: a consistent rewrite signs fine. A witness is a separate process
with its own key and its own memory. For each log it keeps the last checkpoint it
cosigned; a new one is cosigned (c2sp.org/tlog-cosignature) only when its signature
verifies with the log's key and a consistency proof shows the old tree is a prefix of the
new. A smaller tree, or the same size with another root, is refused for good: that is
the fork a rewrite leaves behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.adapters.clock import Clock
from ledger.adapters.notes import cosign_note, verify_note
from ledger.domain.merkle import verify_consistency
from ledger.domain.signed_note import (
    NoteFormatError,
    NoteSignature,
    SignedNote,
    TreeHead,
    VerifierKey,
    parse_note,
    parse_tree_head,
)
from ledger.errors import LedgerError

#: Fetches the consistency proof between two tree sizes of a log (hashes, oldest first).
ConsistencyFetcher = Callable[[int, int], Sequence[bytes]]


class WitnessRefused(LedgerError):
    """The checkpoint is not one this witness may cosign; the reason says why."""

    code = "witness-refused"


class WitnessState(Protocol):
    """The witness's memory: the last checkpoint it cosigned, per log origin."""

    def last(self, origin: str) -> TreeHead | None: ...

    def keep(self, origin: str, note: str) -> None: ...


@dataclass(frozen=True)
class Cosigned:
    head: TreeHead
    signature: NoteSignature
    note: str  # the checkpoint with the log's signature and this cosignature


class Witness:
    def __init__(
        self,
        name: str,
        key: Ed25519PrivateKey,
        log_keys: Sequence[VerifierKey],
        state: WitnessState,
        clock: Clock,
    ) -> None:
        self.name = name
        self._key = key
        self._log_keys = list(log_keys)
        self._state = state
        self._clock = clock

    def witness(self, note_text: str, consistency: ConsistencyFetcher) -> Cosigned:
        """Check the log's checkpoint against the last one seen, remember it, cosign it."""
        try:
            note = parse_note(note_text)
            head = parse_tree_head(note.text)
        except NoteFormatError as exc:
            raise WitnessRefused(f"not a signed checkpoint: {exc}") from exc
        own = tuple(s for s in note.signatures if s.name == head.origin)
        check = verify_note(SignedNote(note.text, own), self._log_keys)
        if not check.ok:
            raise WitnessRefused(f"{head.origin}: the log's signature: {check.problem}")
        last = self._state.last(head.origin)
        if last is not None:
            self._check_extends(last, head, consistency)
        log_signed = SignedNote(note.text, own).render()
        self._state.keep(head.origin, log_signed)
        when = int(self._clock().timestamp())
        signature = cosign_note(self._key, self.name, note.text, when)
        return Cosigned(head, signature, SignedNote(note.text, (*own, signature)).render())

    @staticmethod
    def _check_extends(last: TreeHead, head: TreeHead, consistency: ConsistencyFetcher) -> None:
        if head.tree_size < last.tree_size:
            raise WitnessRefused(
                f"{head.origin}: tree size {head.tree_size} is smaller than {last.tree_size}, "
                "which this witness already cosigned"
            )
        if head.tree_size == last.tree_size:
            if head.root_hash != last.root_hash:
                raise WitnessRefused(
                    f"{head.origin}: a second root for tree size {head.tree_size}: the log "
                    "was rewritten (a fork); refusing to cosign"
                )
            return
        proof = consistency(last.tree_size, head.tree_size)
        if not verify_consistency(last.tree_size, head.tree_size, last.root_hash,
                                  head.root_hash, list(proof)):
            raise WitnessRefused(
                f"{head.origin}: the tree of size {head.tree_size} does not extend the one of "
                f"size {last.tree_size} this witness cosigned: the log was rewritten"
            )
