"""The per-tenant hash chain: each entry commits to its predecessor, so no entry can be
changed, removed or reordered without breaking every hash after it."""

from __future__ import annotations

import hashlib

GENESIS_HASH = "0" * 64
_DOMAIN_TAG = b"ledger-entry-v1\x00"


def entry_hash(prev_hash: str, position: int, digest: str) -> str:
    """Hash of an entry at `position` whose canonical envelope hashes to `digest`.

    The position is part of the hash so that swapping two entries is detected even when
    their contents are identical.
    """
    h = hashlib.sha256(_DOMAIN_TAG)
    h.update(bytes.fromhex(prev_hash))
    h.update(position.to_bytes(8, "big"))
    h.update(bytes.fromhex(digest))
    return h.hexdigest()
