"""Ed25519 signing and verification of signed notes (the formats are in domain/signed_note.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.domain.signed_note import (
    COSIGNATURE_V1,
    ED25519,
    NoteFormatError,
    NoteSignature,
    SignedNote,
    VerifierKey,
    cosigned_message,
    key_id,
    split_timestamped,
    timestamped,
    vkey,
)


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def log_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    return vkey(name, ED25519, raw_public(public_key))


def cosigner_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    return vkey(name, COSIGNATURE_V1, raw_public(public_key))


def sign_note(private_key: Ed25519PrivateKey, name: str, text: str) -> NoteSignature:
    """The log's own signature (type 0x01) over the note text."""
    kid = key_id(name, ED25519, raw_public(private_key.public_key()))
    return NoteSignature(name, kid, private_key.sign(text.encode("utf-8")))


def cosign_note(
    private_key: Ed25519PrivateKey, name: str, text: str, timestamp: int
) -> NoteSignature:
    """A witness's timestamped cosignature (type 0x04) over the checkpoint text."""
    kid = key_id(name, COSIGNATURE_V1, raw_public(private_key.public_key()))
    signature = private_key.sign(cosigned_message(text, timestamp))
    return NoteSignature(name, kid, timestamped(timestamp, signature))


@dataclass(frozen=True, slots=True)
class NoteCheck:
    """Which trusted keys signed the note; `problem` when a known key's signature failed."""

    verified_by: tuple[str, ...]
    cosigned_at: dict[str, int]
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None and bool(self.verified_by)


def verify_note(note: SignedNote, trusted: Iterable[VerifierKey]) -> NoteCheck:
    """Check every signature from a known key; unknown signers are ignored, as C2SP says."""
    keys = {(k.name, k.key_id): k for k in trusted}
    verified: list[str] = []
    times: dict[str, int] = {}
    for sig in note.signatures:
        key = keys.get((sig.name, sig.key_id))
        if key is None:
            continue
        why = _check(key, note.text, sig)
        if isinstance(why, str):
            return NoteCheck(tuple(verified), times, f"signature of {sig.name!r}: {why}")
        verified.append(sig.name)
        if why is not None:
            times[sig.name] = why
    if not verified:
        return NoteCheck((), times, "no signature from a trusted key")
    return NoteCheck(tuple(verified), times, None)


def _check(key: VerifierKey, text: str, sig: NoteSignature) -> str | int | None:
    """None or the cosignature's time when it verifies, else why not."""
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    try:
        if key.signature_type == ED25519:
            public.verify(sig.signature, text.encode("utf-8"))
            return None
        if key.signature_type == COSIGNATURE_V1:
            when, raw = split_timestamped(sig.signature)
            public.verify(raw, cosigned_message(text, when))
            return when
    except InvalidSignature:
        return "does not verify"
    except NoteFormatError as exc:
        return str(exc)
    return f"signature type 0x{key.signature_type:02x} is not supported"
