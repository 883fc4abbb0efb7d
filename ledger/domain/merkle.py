"""Merkle trees as RFC 9162 (Certificate Transparency v2) defines them, as pure functions.

Why RFC 9162 and not a home-made tree: its hashing (a 0x00 prefix for leaves, 0x01 for
interior nodes) rules out second-preimage tricks between leaves and nodes, its tree shape
is defined for every size (not only powers of two), and its inclusion and consistency
proofs are small (O(log n)) and checkable by any CT library, so an auditor needs no code
of ours to check our evidence.

Terms (RFC 9162 section 2.1): D[n] is the list of n leaves, MTH(D[n]) its tree head (root),
leaf indexes are 0-based. Hashes are raw 32-byte SHA-256 digests here; hex is for the edges.

Two ways to name the leaves:
- a list of leaf hashes (`mth`, `inclusion_path`, `consistency_path` on lists), fine for
  small trees and tests;
- a `SubtreeHasher`: any function giving MTH(D[a:b]); `TiledTree` is one that needs only
  the hashes of complete 256-leaf tiles plus the leaves of at most two tiles, which is what
  lets the ledger prove inclusion in a tree of millions of entries without reading them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ledger.errors import LedgerError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: MTH(D[a:b]) for 0 <= a < b <= size: how proofs reach the tree's hashes.
SubtreeHasher = Callable[[int, int], bytes]


class ProofError(LedgerError, ValueError):
    """A proof was asked for an index or size that the tree does not have."""

    code = "proof-outside-tree"


def leaf_hash(leaf: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1): where RFC 9162 splits D[n]."""
    if n < 2:
        raise ValueError(f"no split point for a tree of {n} leaves")
    return 1 << ((n - 1).bit_length() - 1)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """The tree head of the given leaf hashes (RFC 9162 section 2.1.1)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split_point(n)
    return node_hash(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


def list_hasher(leaf_hashes: Sequence[bytes]) -> SubtreeHasher:
    """A SubtreeHasher over an in-memory list of leaf hashes."""
    return lambda a, b: mth(leaf_hashes[a:b])


# --- proofs (generation) -------------------------------------------------------------


def inclusion_path(index: int, size: int, subtree: SubtreeHasher) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 section 2.1.3.1): the audit path of leaf `index`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = split_point(hi - lo)
        if m < k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()  # the recursion emits the deepest sibling first
    return path


def consistency_path(first: int, second: int, subtree: SubtreeHasher) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 section 2.1.4.1): tree `first` is a prefix of tree `second`."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    path: list[bytes] = []
    lo, hi, m, complete = 0, second, first, True
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        path.append(subtree(lo, hi))
    path.reverse()
    return path


# --- proofs (verification) -----------------------------------------------------------


def _checked(hashes: Sequence[bytes]) -> bool:
    return all(len(h) == HASH_SIZE for h in hashes)


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root that `path` leads to from leaf hash `leaf`, or None if it cannot be one.

    RFC 9162 section 2.1.3.2, steps 1-4; the caller compares the result with a root.
    """
    if not 0 <= index < size or len(leaf) != HASH_SIZE or not _checked(path):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether `path` proves that leaf hash `leaf` is leaf `index` of the tree `root`."""
    return root_from_inclusion(index, size, leaf, path) == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """Whether `path` proves that tree `first_root` is a prefix of tree `second_root`.

    RFC 9162 section 2.1.4.2, with its two trivial cases: equal sizes need an empty path
    and equal roots; an empty first tree is a prefix of every tree.
    """
    if not 0 <= first <= second or not _checked(path):
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path
    if not path:
        return False
    proof = list(path)
    if _is_power_of_two(first):
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# --- incremental tree heads ----------------------------------------------------------


@dataclass(slots=True)
class CompactRange:
    """The tree head of a growing list of leaves in O(log n) memory.

    Keeps the roots of the perfect subtrees that D[0:n] decomposes into (sizes are the
    binary digits of n, largest first); appending merges equal-sized neighbours. This is
    how a verifier recomputes the head at every checkpoint size in one pass.
    """

    size: int = 0
    peaks: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash."""
        self.peaks.append(leaf)
        self.size += 1
        n = self.size
        while not n & 1:
            right = self.peaks.pop()
            self.peaks[-1] = node_hash(self.peaks[-1], right)
            n >>= 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far: RFC 9162 folds the peaks right to left."""
        if not self.peaks:
            return EMPTY_ROOT
        r = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            r = node_hash(peak, r)
        return r


# --- tiled trees ---------------------------------------------------------------------

TILE_HEIGHT = 8
TILE_SIZE = 1 << TILE_HEIGHT  # 256 leaves: a tile's root is an aligned perfect subtree

TileLeaves = Callable[[int], Sequence[bytes]]


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect tree whose bottom level is `hashes` (a power-of-two count)."""
    if not _is_power_of_two(len(hashes)):
        raise ValueError(f"{len(hashes)} hashes do not form a perfect tree")
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


class TiledTree:
    """MTH(D[a:b]) for a tree of `size` leaves from its tile roots and a few tiles' leaves.

    Tile t holds leaves [t*256, (t+1)*256); `tiles[t]` is its root, known for every
    complete tile. Any subtree that RFC 9162's algorithms ask for is either a union of
    whole aligned tiles (hashed from `tiles`) or lies inside one tile, whose leaf hashes
    `tile_leaves(t)` supplies (the caller reads them; this class does no I/O). Proving
    leaf m then touches only m's tile and the last, incomplete tile.
    """

    def __init__(self, size: int, tiles: Sequence[bytes], tile_leaves: TileLeaves) -> None:
        if len(tiles) < size // TILE_SIZE:
            raise ValueError(f"{len(tiles)} tile roots for a tree of {size} leaves")
        self.size = size
        self._tiles = tiles
        self._tile_leaves = tile_leaves
        self._leaves: dict[int, Sequence[bytes]] = {}
        self._memo: dict[tuple[int, int], bytes] = {}

    def subtree(self, a: int, b: int) -> bytes:
        """MTH(D[a:b]); a SubtreeHasher."""
        if not 0 <= a < b <= self.size:
            raise ProofError(f"subtree [{a}, {b}) is outside a tree of size {self.size}")
        key = (a, b)
        found = self._memo.get(key)
        if found is None:
            found = self._compute(a, b)
            self._memo[key] = found
        return found

    def root(self) -> bytes:
        return self.subtree(0, self.size) if self.size else EMPTY_ROOT

    def _compute(self, a: int, b: int) -> bytes:
        n = b - a
        if n >= TILE_SIZE and _is_power_of_two(n) and a % n == 0:
            first = a // TILE_SIZE
            return perfect_root(self._tiles[first : first + n // TILE_SIZE])
        tile = a // TILE_SIZE
        if (b - 1) // TILE_SIZE == tile:
            leaves = self._leaves.get(tile)
            if leaves is None:
                leaves = self._tile_leaves(tile)
                self._leaves[tile] = leaves
            start = tile * TILE_SIZE
            return mth(leaves[a - start : b - start])
        k = split_point(n)
        return node_hash(self.subtree(a, a + k), self.subtree(a + k, b))


def tile_roots(leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Roots of the complete tiles in `leaf_hashes` (which must start at a tile boundary)."""
    return [
        perfect_root(leaf_hashes[i : i + TILE_SIZE])
        for i in range(0, len(leaf_hashes) - TILE_SIZE + 1, TILE_SIZE)
    ]
