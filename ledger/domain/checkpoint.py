"""What a signed checkpoint commits to: the Merkle leaf of every entry and the signed body.

A checkpoint says "tenant T's ledger had `tree_size` entries and their RFC 9162 tree head
was `root_hash`", signed with Ed25519. The hash chain alone lets anyone with write access
rewrite history consistently from some position on; a signature made before the rewrite,
by a key the attacker does not hold, is what makes that rewrite detectable. Checkpoints
are immutable events of their own stream per tenant, so keys can rotate (each checkpoint
names its key) without touching the ledger.

The leaf of the entry at `position` (its canonical bytes; the tree hashes it with RFC
9162's 0x00 prefix) is, byte for byte:

    b"ledger-leaf-v1\\x00"
    || uint64_be(position)
    || entry_hash                      (32 raw bytes: commits to the RFC 8785 envelope,
                                        its position and the predecessor, see chain.py)
    || str(tenant) || str(kind) || str(stream) || str(recorded_at)

with str(s) = uint32_be(len(utf8(s))) || utf8(s), and recorded_at rendered by
`rfc3339_utc`. So the signed tree also covers what the chain does not: who the entry
belongs to, its kind and stream, and when the ledger recorded it. A fixed binary layout
rather than JSON: the verifier recomputes a million of these, and length prefixes leave
no room for ambiguity.

The signed body is the RFC 8785 canonical JSON of
    {"format": "ledger-checkpoint/v1", "tenant", "tree_size", "root_hash" (hex),
     "timestamp" (rfc3339_utc), "key_id"}.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar
from uuid import UUID

from ledger.domain.envelope import canonical_bytes, derived_uuid
from ledger.domain.events import EntryRecorded
from ledger.domain.merkle import leaf_hash
from ledger.domain.signed_note import TreeHead

LEAF_TAG = b"ledger-leaf-v1\x00"
CHECKPOINT_FORMAT = "ledger-checkpoint/v1"


def checkpoint_stream_id(tenant: str) -> UUID:
    """Each tenant's checkpoints are one stream: version k is its k-th checkpoint."""
    return derived_uuid("checkpoints", tenant)


@lru_cache(maxsize=4096)
def rfc3339_utc(moment: datetime) -> str:
    """One spelling per instant (UTC, microseconds, 'Z'), so a timestamp hashes one way.

    Cached: the entries of one batch share their recording time, and formatting was a
    third of the cost of a leaf.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp {moment!r} has no time zone; the ledger records aware times")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def _str(value: str) -> bytes:
    data = value.encode("utf-8")
    return _U32.pack(len(data)) + data


def leaf_bytes(
    *,
    tenant: str,
    position: int,
    entry_hash: str,
    kind: str,
    stream: str,
    recorded_at: datetime,
) -> bytes:
    """The canonical bytes of an entry as a Merkle leaf (layout in the module docstring)."""
    raw_hash = bytes.fromhex(entry_hash)
    if len(raw_hash) != 32:
        raise ValueError(f"entry hash {entry_hash!r} is not 32 bytes of hex")
    return b"".join((
        LEAF_TAG,
        _U64.pack(position),
        raw_hash,
        _str(tenant),
        _str(kind),
        _str(stream),
        _str(rfc3339_utc(recorded_at)),
    ))


def entry_leaf_hash(entry: EntryRecorded) -> bytes:
    """RFC 9162 leaf hash of a ledger entry."""
    return leaf_hash(
        leaf_bytes(
            tenant=entry.tenant,
            position=entry.position,
            entry_hash=entry.entry_hash,
            kind=entry.kind,
            stream=entry.stream,
            recorded_at=entry.timestamp,
        )
    )


@dataclass(frozen=True, slots=True)
class CheckpointBody:
    """The statement a checkpoint signs."""

    tenant: str
    tree_size: int
    root_hash: str
    timestamp: datetime
    key_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "tenant": self.tenant,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": rfc3339_utc(self.timestamp),
            "key_id": self.key_id,
        }

    def canonical(self) -> bytes:
        """The exact bytes that are signed: RFC 8785 JSON of `as_dict()`."""
        return canonical_bytes(self.as_dict())


@dataclass(frozen=True)
class CheckpointSigned:
    """Tenant `tenant`'s first `tree_size` entries had tree head `root_hash`, signed.

    `originator_version` is the checkpoint's sequence number in the tenant's checkpoint
    stream. `tiles` are the roots (hex) of the 256-leaf tiles completed since the previous
    checkpoint: not signed and never trusted by verification (it recomputes them), they
    let proofs be built from a few stored hashes instead of every entry.
    """

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    tenant: str
    tree_size: int
    root_hash: str
    key_id: str
    signature: str  # base64 of the 64-byte Ed25519 signature over body().canonical()
    tiles: list[str]
    #: The same statement as a C2SP checkpoint: the log's origin and the base64 Ed25519
    #: signature of its note text (signed_note.py); None on checkpoints made before.
    origin: str | None = None
    note_signature: str | None = None

    class_version: ClassVar[int] = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.setdefault("origin", None)
        state.setdefault("note_signature", None)

    @property
    def sequence(self) -> int:
        return self.originator_version

    def body(self) -> CheckpointBody:
        return CheckpointBody(
            self.tenant, self.tree_size, self.root_hash, self.timestamp, self.key_id
        )

    def as_dict(self) -> dict[str, Any]:
        """The checkpoint as it travels in proofs and evidence: the body plus signature."""
        return {
            **self.body().as_dict(),
            "sequence": self.sequence,
            "signature": self.signature,
        }

    def tree_head(self) -> TreeHead | None:
        """The checkpoint's C2SP note text, when it was signed as one."""
        if self.origin is None:
            return None
        return TreeHead(self.origin, self.tree_size, bytes.fromhex(self.root_hash))


def body_from_dict(data: dict[str, Any]) -> CheckpointBody:
    """Read a checkpoint body back from its JSON form (as found in evidence files)."""
    if data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"unknown checkpoint format {data.get('format')!r}")
    return CheckpointBody(
        tenant=str(data["tenant"]),
        tree_size=int(data["tree_size"]),
        root_hash=str(data["root_hash"]),
        timestamp=datetime.fromisoformat(str(data["timestamp"])),
        key_id=str(data["key_id"]),
    )


def cosignature_stream_id(tenant: str) -> UUID:
    """Each tenant's witness cosignatures are one stream, in the order they were received."""
    return derived_uuid("cosignatures", tenant)


def signing_keys_stream_id() -> UUID:
    """The keys that signed checkpoints, in the order they were first used."""
    return derived_uuid("signing-keys", "all")


@dataclass(frozen=True)
class CheckpointCosigned:
    """A witness checked the tenant's checkpoint of `tree_size` against what it saw before,
    and cosigned it (C2SP tlog-cosignature v1); `line` is its note signature line."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    tenant: str
    tree_size: int
    root_hash: str
    witness: str
    line: str


@dataclass(frozen=True)
class SigningKeyAnnounced:
    """The ledger started signing checkpoints with this key (valid until the next one)."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    key_id: str
    public_key: str  # base64 of the 32 raw Ed25519 public key bytes
