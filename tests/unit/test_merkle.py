"""RFC 9162 Merkle trees, checked against the Certificate Transparency test vectors.

The vectors (leaves, roots of every prefix, inclusion and consistency proofs) are the
ones every CT implementation tests against; these come from transparency-dev/merkle
(`proof/verify_test.go`, `rfc6962/rfc6962_test.go`), which carries them over from
Google's certificate-transparency and trillian code bases.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.merkle import (
    EMPTY_ROOT,
    TILE_SIZE,
    CompactRange,
    ProofError,
    TiledTree,
    consistency_path,
    inclusion_path,
    leaf_hash,
    list_hasher,
    mth,
    node_hash,
    root_from_inclusion,
    tile_roots,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
LEAF_HASHES = [leaf_hash(leaf) for leaf in LEAVES]

#: ROOTS[n - 1] is the tree head of the first n leaves.
ROOTS = [
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

#: (leaf number, 1-based as in the source; tree size; audit path)
INCLUSION = [
    (1, 1, []),
    (1, 8, [
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ]),
    (6, 8, [
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]),
    (3, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (2, 5, [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ]),
]

#: (first size, second size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, [
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ]),
    (6, 8, [
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]),
    (2, 5, [
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ]),
    (6, 7, [
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


# --- hashing -------------------------------------------------------------------------


def test_the_empty_tree_hashes_to_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert mth([]) == EMPTY_ROOT


def test_an_empty_leaf_is_not_the_empty_tree() -> None:
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_leaves_are_hashed_with_a_zero_prefix() -> None:
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )


def test_nodes_are_hashed_with_a_one_prefix() -> None:
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_a_node_is_never_the_leaf_of_its_childrens_concatenation() -> None:
    left, right = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert node_hash(left, right) != leaf_hash(left + right)
    assert node_hash(left, right) != node_hash(right, left)


@pytest.mark.parametrize("size", range(1, 9))
def test_tree_heads_of_every_prefix_match_the_vectors(size: int) -> None:
    assert mth(LEAF_HASHES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize("size", range(1, 9))
def test_a_compact_range_gives_the_same_heads_incrementally(size: int) -> None:
    tree = CompactRange()
    for leaf in LEAF_HASHES[:size]:
        tree.append(leaf)
    assert tree.root() == ROOTS[size - 1]


# --- inclusion -----------------------------------------------------------------------


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_inclusion_paths_match_the_vectors(leaf: int, size: int, path: list[bytes]) -> None:
    assert inclusion_path(leaf - 1, size, list_hasher(LEAF_HASHES[:size])) == path


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_vector_inclusion_proofs_verify(leaf: int, size: int, path: list[bytes]) -> None:
    assert verify_inclusion(leaf - 1, size, LEAF_HASHES[leaf - 1], path, ROOTS[size - 1])


def corrupted_inclusions(
    index: int, size: int, leaf: bytes, path: list[bytes], root: bytes
) -> list[tuple[str, int, int, bytes, list[bytes], bytes]]:
    """The probes transparency-dev/merkle uses to check that bad proofs are refused."""
    probes = [
        ("index - 1", index - 1, size, leaf, path, root),
        ("index + 1", index + 1, size, leaf, path, root),
        ("index ^ 2", index ^ 2, size, leaf, path, root),
        ("size * 2", index, size * 2, leaf, path, root),
        ("size / 2", index, size // 2, leaf, path, root),
        ("wrong leaf", index, size, b"WrongLeaf", path, root),
        ("empty root", index, size, leaf, path, EMPTY_ROOT),
        ("random root", index, size, leaf, path, SOME_HASH),
        ("trailing garbage", index, size, leaf, [*path, b""], root),
        ("trailing root", index, size, leaf, [*path, root], root),
        ("preceding garbage", index, size, leaf, [b"", *path], root),
        ("preceding root", index, size, leaf, [root, *path], root),
    ]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((f"flipped bit in path[{i}]", index, size, leaf, flipped, root))
    if path:
        probes.append(("removed component", index, size, leaf, path[:-1], root))
    if len(path) > 1:
        probes.append(("inserted component", index, size, leaf,
                       [path[0], SOME_HASH, *path[1:]], root))
    return probes


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION[1:])
def test_corrupted_inclusion_proofs_are_refused(leaf: int, size: int, path: list[bytes]) -> None:
    probes = corrupted_inclusions(leaf - 1, size, LEAF_HASHES[leaf - 1], path, ROOTS[size - 1])
    accepted = [name for name, *args in probes if verify_inclusion(*args)]  # type: ignore[arg-type]
    assert accepted == []


def test_a_one_leaf_tree_proves_its_leaf_with_an_empty_path() -> None:
    leaf = leaf_hash(b"data")
    assert verify_inclusion(0, 1, leaf, [], leaf)
    assert not verify_inclusion(0, 1, leaf, [], b"")
    assert not verify_inclusion(0, 1, b"", [], leaf)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (1, 1)])
def test_an_index_outside_the_tree_proves_nothing(index: int, size: int) -> None:
    assert root_from_inclusion(index, size, SOME_HASH, []) is None
    with pytest.raises(ProofError):
        inclusion_path(index, size, list_hasher(LEAF_HASHES))


# --- consistency ---------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_paths_match_the_vectors(first: int, second: int, path: list[bytes]) -> None:
    assert consistency_path(first, second, list_hasher(LEAF_HASHES[:second])) == path


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_vector_consistency_proofs_verify(first: int, second: int, path: list[bytes]) -> None:
    assert verify_consistency(first, second, ROOTS[first - 1], ROOTS[second - 1], path)


@pytest.mark.parametrize(("first", "second", "path"), [c for c in CONSISTENCY if c[2]])
def test_corrupted_consistency_proofs_are_refused(
    first: int, second: int, path: list[bytes]
) -> None:
    r1, r2 = ROOTS[first - 1], ROOTS[second - 1]
    probes = [
        (first - 1, second, r1, r2, path),
        (first + 1, second, r1, r2, path),
        (first ^ 2, second, r1, r2, path),
        (first, second * 2, r1, r2, path),
        (first, second // 2, r1, r2, path),
        (first, second, b"WrongRoot", r2, path),
        (first, second, r1, b"WrongRoot", path),
        (first, second, r2, r1, path),
        (first, second, r1, r2, []),
        (first, second, r1, r2, [*path, b""]),
        (first, second, r1, r2, [*path, r1]),
        (first, second, r1, r2, [*path, r2]),
        (first, second, r1, r2, [b"", *path]),
        (first, second, r1, r2, [r1, *path]),
        (first, second, r1, r2, [r2, *path]),
        (first, second, r1, r2, [path[0], *path]),
        (first, second, r1, r2, path[:-1]),
    ]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((first, second, r1, r2, flipped))
    assert [p for p in probes if verify_consistency(*p)] == []


def test_trivial_consistency_cases_follow_rfc_9162() -> None:
    root1, root2 = b"don't care 1", b"don't care 2"
    assert verify_consistency(0, 0, root1, root1, [])
    assert verify_consistency(0, 1, root1, root2, [])
    assert verify_consistency(1, 1, root2, root2, [])
    assert not verify_consistency(0, 0, root1, root2, [])
    assert not verify_consistency(1, 1, root1, root2, [])
    assert not verify_consistency(1, 0, root1, root2, []), "no time travel"
    assert not verify_consistency(2, 1, root1, root2, [])
    assert not verify_consistency(1, 2, root1, root2, []), "a real step needs a proof"
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


# --- any size, not only powers of two ------------------------------------------------


def synthetic(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_every_leaf_of_every_tree_size_proves_its_inclusion(size: int, data: st.DataObject) -> None:
    leaves = synthetic(size)
    root = mth(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    path = inclusion_path(index, size, list_hasher(leaves))
    assert verify_inclusion(index, size, leaves[index], path, root)
    assert not verify_inclusion(index, size, leaf_hash(b"other"), path, root)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_every_prefix_is_provably_consistent_with_the_whole(size: int, data: st.DataObject) -> None:
    leaves = synthetic(size)
    first = data.draw(st.integers(min_value=1, max_value=size))
    path = consistency_path(first, size, list_hasher(leaves))
    assert verify_consistency(first, size, mth(leaves[:first]), mth(leaves), path)
    if first < size:
        altered = [*leaves[: first - 1], leaf_hash(b"rewritten"), *leaves[first:]]
        assert not verify_consistency(first, size, mth(altered[:first]), mth(leaves), path)


# --- tiled trees: proofs from tile roots and two tiles of leaves ---------------------


@pytest.mark.parametrize("size", [1, 255, 256, 257, 511, 512, 513, 1000, 1024, 3 * 256 + 7])
def test_a_tiled_tree_gives_the_same_heads_and_proofs(size: int) -> None:
    leaves = synthetic(size)
    read: list[int] = []

    def tile_leaves(tile: int) -> list[bytes]:
        read.append(tile)
        return leaves[tile * TILE_SIZE : (tile + 1) * TILE_SIZE]

    tree = TiledTree(size, tile_roots(leaves), tile_leaves)
    assert tree.root() == mth(leaves)
    for index in {0, size // 2, size - 1}:
        assert inclusion_path(index, size, tree.subtree) == inclusion_path(
            index, size, list_hasher(leaves)
        )
    for first in {1, size // 3 or 1, size}:
        assert consistency_path(first, size, tree.subtree) == consistency_path(
            first, size, list_hasher(leaves)
        )
    assert set(read) <= {0, (size // 3 or 1) // TILE_SIZE, (size // 2) // TILE_SIZE,
                         (size - 1) // TILE_SIZE}


def test_a_tiled_proof_reads_only_the_leafs_tile_and_the_last_tile() -> None:
    size = 10 * TILE_SIZE + 5
    leaves = synthetic(size)
    read: list[int] = []

    def tile_leaves(tile: int) -> list[bytes]:
        read.append(tile)
        return leaves[tile * TILE_SIZE : (tile + 1) * TILE_SIZE]

    tree = TiledTree(size, tile_roots(leaves), tile_leaves)
    inclusion_path(3 * TILE_SIZE + 17, size, tree.subtree)
    assert sorted(set(read)) == [3, 10]


def test_tile_roots_are_the_heads_of_aligned_256_leaf_subtrees() -> None:
    leaves = synthetic(2 * TILE_SIZE + 3)
    assert tile_roots(leaves) == [mth(leaves[:TILE_SIZE]), mth(leaves[TILE_SIZE : 2 * TILE_SIZE])]
