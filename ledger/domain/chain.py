"""The per-tenant hash chain: each entry commits to its predecessor, so no entry can be
changed, removed or reordered without breaking every hash after it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

GENESIS_HASH = "0" * 64
_DOMAIN_TAG = b"ledger-entry-v1\x00"


def entry_hash(prev_hash: str, position: int, digest: str) -> str:
    """Hash of an entry at `position` whose canonical envelope hashes to `digest`.

    The position is part of the hash so that swapping two entries is detected even when
    their contents are identical.
    """
    return _link(bytes.fromhex(prev_hash), position, bytes.fromhex(digest)).hex()


def chain_hashes(prev_hash: str, first_position: int, digests: Sequence[str]) -> list[str]:
    """The entry hashes of consecutive entries from `first_position`, chained to
    `prev_hash`: `entry_hash` in a loop, but each predecessor is passed on as bytes, not
    re-parsed from hex (this runs while a writer holds its tenant's turn)."""
    hashes: list[str] = []
    prev = bytes.fromhex(prev_hash)
    for position, digest in enumerate(digests, start=first_position):
        prev = _link(prev, position, bytes.fromhex(digest))
        hashes.append(prev.hex())
    return hashes


def _link(prev: bytes, position: int, digest: bytes) -> bytes:
    return hashlib.sha256(_DOMAIN_TAG + prev + position.to_bytes(8, "big") + digest).digest()
