"""Checkpoints as outsiders see them: signed notes with cosignatures, and the signing keys.

The ledger serves each tenant's latest checkpoint as a C2SP signed note carrying the log's
signature and every cosignature a trusted witness gave it. Witnesses post cosignatures
back; only those that verify with a configured witness key, over a checkpoint the ledger
really signed, are kept (as events: they are evidence too).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.adapters.clock import Clock
from ledger.adapters.notes import verify_note
from ledger.adapters.store import AppendConflict, EventStore
from ledger.domain.checkpoint import (
    CheckpointCosigned,
    CheckpointSigned,
    SigningKeyAnnounced,
    cosignature_stream_id,
    rfc3339_utc,
    signing_keys_stream_id,
)
from ledger.domain.signed_note import (
    ED25519,
    NoteFormatError,
    NoteSignature,
    SignedNote,
    VerifierKey,
    key_id,
    parse_note,
    parse_tree_head,
    vkey,
)
from ledger.errors import LedgerError


class CosignatureRefused(LedgerError, ValueError):
    """A posted cosignature is not one the ledger can keep."""

    code = "cosignature-refused"


def log_signature(checkpoint: CheckpointSigned, public_key: bytes) -> NoteSignature | None:
    if checkpoint.origin is None or checkpoint.note_signature is None:
        return None
    kid = key_id(checkpoint.origin, ED25519, public_key)
    return NoteSignature(checkpoint.origin, kid, base64.b64decode(checkpoint.note_signature))


def note_of(store: EventStore, checkpoint: CheckpointSigned) -> str | None:
    """The checkpoint as a signed note with its cosignatures; None before notes existed."""
    head = checkpoint.tree_head()
    public = None
    for key in store.stream_events(signing_keys_stream_id()):
        if isinstance(key, SigningKeyAnnounced) and key.key_id == checkpoint.key_id:
            public = base64.b64decode(key.public_key)
    own = log_signature(checkpoint, public) if public else None
    if head is None or own is None:
        return None
    lines = [own.line()]
    for cosigned in store.stream_events(cosignature_stream_id(checkpoint.tenant)):
        if (isinstance(cosigned, CheckpointCosigned) and cosigned.line not in lines
                and cosigned.tree_size == checkpoint.tree_size):
            lines.append(cosigned.line)
    return head.note_text() + "\n" + "".join(lines)


@dataclass(frozen=True)
class Transparency:
    store: EventStore
    clock: Clock
    witnesses: Sequence[VerifierKey] = ()

    # --- the signing keys ---------------------------------------------------------------

    def keys(self) -> list[SigningKeyAnnounced]:
        events = self.store.stream_events(signing_keys_stream_id())
        return [e for e in events if isinstance(e, SigningKeyAnnounced)]

    def keys_document(self, origin: str | None) -> list[dict[str, Any]]:
        """Every key that signed checkpoints, oldest first, valid until the next one."""
        announced = self.keys()
        out = []
        for i, key in enumerate(announced):
            raw = base64.b64decode(key.public_key)
            until = announced[i + 1].timestamp if i + 1 < len(announced) else None
            out.append({
                "key_id": key.key_id,
                "algorithm": "Ed25519",
                "public_key": key.public_key,
                "valid_from": rfc3339_utc(key.timestamp),
                "valid_until": rfc3339_utc(until) if until else None,
                "current": until is None,
                "note_verifier_key": vkey(origin, ED25519, raw) if origin else None,
            })
        return out

    def public_key(self, key_id_: str) -> bytes | None:
        for key in self.keys():
            if key.key_id == key_id_:
                return base64.b64decode(key.public_key)
        return None

    # --- notes ----------------------------------------------------------------------------

    def cosignatures(self, tenant: str) -> list[CheckpointCosigned]:
        events = self.store.stream_events(cosignature_stream_id(tenant))
        return [e for e in events if isinstance(e, CheckpointCosigned)]

    def note(self, checkpoint: CheckpointSigned) -> str | None:
        return note_of(self.store, checkpoint)

    def latest_note(self, tenant: str) -> str | None:
        latest = self.store.latest_checkpoint(tenant)
        return self.note(latest) if latest else None

    def add_cosignatures(self, tenant: str, posted: str) -> list[str]:
        """Keep the posted note's valid cosignatures by trusted witnesses; their names."""
        try:
            note = parse_note(posted)
            head = parse_tree_head(note.text)
        except NoteFormatError as exc:
            raise CosignatureRefused(f"not a signed checkpoint: {exc}") from exc
        signed = self._checkpoint_of(tenant, head.tree_size)
        if signed is None or signed.tree_head() != head:
            raise CosignatureRefused(
                f"the ledger signed no checkpoint of {tenant!r} with size {head.tree_size} "
                "and this root"
            )
        kept = []
        for sig in note.signatures:
            witness = self._witness(sig)
            if witness is None:
                continue
            check = verify_note(SignedNote(note.text, (sig,)), [witness])
            if not check.ok:
                raise CosignatureRefused(f"cosignature of {sig.name!r}: {check.problem}")
            self._append(tenant, head.tree_size, signed.root_hash, sig)
            kept.append(sig.name)
        if not kept:
            raise CosignatureRefused("no cosignature by a witness this ledger trusts")
        return kept

    def _witness(self, sig: NoteSignature) -> VerifierKey | None:
        for key in self.witnesses:
            if (key.name, key.key_id) == (sig.name, sig.key_id):
                return key
        return None

    def _checkpoint_of(self, tenant: str, size: int) -> CheckpointSigned | None:
        for checkpoint in reversed(self.store.checkpoints(tenant)):
            if checkpoint.tree_size == size:
                return checkpoint
        return None

    def _append(self, tenant: str, size: int, root: str, sig: NoteSignature) -> None:
        stream = cosignature_stream_id(tenant)
        for _ in range(5):  # another process may append the stream's next version first
            version = self.store.stream_version(stream) + 1
            event = CheckpointCosigned(stream, version, self.clock(), tenant, size, root,
                                       sig.name, sig.line())
            try:
                self.store.append([event])
                return
            except AppendConflict:
                continue
        raise CosignatureRefused("the cosignature stream is busy; post it again")
