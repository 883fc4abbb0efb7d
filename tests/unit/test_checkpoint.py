"""What a checkpoint commits to and how it is signed: pure, no store."""

from __future__ import annotations

import base64
import hashlib
import stat
import struct
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.adapters.signing import (
    MissingSigningKeyError,
    Signer,
    generate_keypair,
    key_fingerprint,
    load_public_key,
    load_signer,
    parse_public_key_option,
    verify_signature,
)
from ledger.config import Settings
from ledger.domain.chain import GENESIS_HASH, entry_hash
from ledger.domain.checkpoint import (
    CheckpointBody,
    body_from_dict,
    checkpoint_stream_id,
    entry_leaf_hash,
    leaf_bytes,
    rfc3339_utc,
)
from ledger.domain.envelope import Envelope
from ledger.domain.events import ledger_stream_id
from ledger.domain.merkle import leaf_hash
from ledger.domain.recording import LedgerHead, decide_appends
from tests.support.envelopes import envelope

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
HASH = "ab" * 32


def leaf(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "tenant": "acme", "position": 7, "entry_hash": HASH, "kind": "inbound",
        "stream": "case:SO-1001", "recorded_at": NOW,
    }
    fields.update(overrides)
    return leaf_bytes(**fields)  # type: ignore[arg-type]


# --- the leaf ------------------------------------------------------------------------


def test_the_leaf_layout_is_the_documented_one() -> None:
    def s(text: str) -> bytes:
        return struct.pack(">I", len(text.encode())) + text.encode()

    expected = (b"ledger-leaf-v1\x00" + (7).to_bytes(8, "big") + bytes.fromhex(HASH)
                + s("acme") + s("inbound") + s("case:SO-1001") + s("2026-03-02T02:00:00.000000Z"))
    assert leaf() == expected


@pytest.mark.parametrize(
    "change",
    [
        {"tenant": "globex"},
        {"position": 8},
        {"entry_hash": "cd" * 32},
        {"kind": "derived"},
        {"stream": "case:SO-1002"},
        {"recorded_at": NOW + timedelta(microseconds=1)},
    ],
)
def test_every_field_of_the_entry_changes_its_leaf(change: dict[str, object]) -> None:
    assert leaf(**change) != leaf()


def test_length_prefixes_leave_no_ambiguity_between_fields() -> None:
    assert leaf(tenant="ab", kind="c") != leaf(tenant="a", kind="bc")


def test_one_instant_has_one_spelling_whatever_its_zone() -> None:
    china = timezone(timedelta(hours=8))
    assert rfc3339_utc(NOW.astimezone(china)) == rfc3339_utc(NOW) == "2026-03-02T02:00:00.000000Z"


def test_a_naive_time_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="time zone"):
        rfc3339_utc(datetime(2026, 3, 2, 2, 0))  # noqa: DTZ001


def test_an_entry_leaf_is_the_rfc_9162_hash_of_its_leaf_bytes() -> None:
    env = Envelope.from_validated(envelope("a"), "case:SO-1001")
    decision = decide_appends(LedgerHead("acme"), [(0, env)], {}, NOW)
    entry = decision.events[0]
    assert entry.originator_id == ledger_stream_id("acme")
    expected = leaf_hash(
        leaf_bytes(tenant="acme", position=1, entry_hash=entry_hash(GENESIS_HASH, 1, env.digest),
                   kind="inbound", stream="case:SO-1001", recorded_at=NOW)
    )
    assert entry_leaf_hash(entry) == expected  # type: ignore[arg-type]


def test_checkpoints_live_in_a_stream_of_their_own_per_tenant() -> None:
    assert checkpoint_stream_id("acme") != ledger_stream_id("acme")
    assert checkpoint_stream_id("acme") != checkpoint_stream_id("globex")


# --- the signed body -----------------------------------------------------------------


BODY = CheckpointBody("acme", 42, "cd" * 32, NOW, "ed25519-0123456789abcdef")


def test_the_signed_body_is_rfc_8785_json_with_a_format_tag() -> None:
    assert BODY.canonical() == (
        b'{"format":"ledger-checkpoint/v1","key_id":"ed25519-0123456789abcdef",'
        b'"root_hash":"' + b"cd" * 32 + b'","tenant":"acme",'
        b'"timestamp":"2026-03-02T02:00:00.000000Z","tree_size":42}'
    )


def test_a_body_survives_its_json_form() -> None:
    assert body_from_dict(BODY.as_dict()).canonical() == BODY.canonical()


def test_a_body_of_another_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        body_from_dict({**BODY.as_dict(), "format": "something-else"})


# --- signatures ----------------------------------------------------------------------


@pytest.fixture
def signer() -> Signer:
    return Signer("k1", Ed25519PrivateKey.generate())


def test_a_signature_verifies_with_the_key_it_names(signer: Signer) -> None:
    sig = signer.sign(BODY.canonical())
    assert verify_signature({"k1": signer.public_key}, "k1", BODY.canonical(), sig) is None


def test_a_changed_body_fails_its_signature(signer: Signer) -> None:
    sig = signer.sign(BODY.canonical())
    other = CheckpointBody("acme", 43, BODY.root_hash, NOW, "k1").canonical()
    assert "does not verify" in str(verify_signature({"k1": signer.public_key}, "k1", other, sig))


def test_a_signature_by_an_unknown_key_is_refused(signer: Signer) -> None:
    sig = signer.sign(b"x")
    assert "unknown key 'k2'" in str(verify_signature({"k1": signer.public_key}, "k2", b"x", sig))


def test_another_keys_signature_is_refused_even_under_the_right_id(signer: Signer) -> None:
    forged = Signer("k1", Ed25519PrivateKey.generate()).sign(b"x")
    assert verify_signature({"k1": signer.public_key}, "k1", b"x", forged) is not None


def test_garbage_is_not_a_signature(signer: Signer) -> None:
    assert verify_signature({"k1": signer.public_key}, "k1", b"x", "not base64!") is not None


# --- keys ----------------------------------------------------------------------------


def test_signing_without_a_configured_key_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(MissingSigningKeyError, match="ledger keys generate"):
        load_signer(Settings(home=tmp_path))


def test_generated_keys_are_private_to_their_owner(tmp_path: Path) -> None:
    made = generate_keypair(tmp_path / "keys")
    assert stat.S_IMODE(made.private_path.stat().st_mode) == 0o600
    signer = load_signer(Settings(home=tmp_path, signing_key_file=made.private_path))
    assert signer.key_id == made.key_id == key_fingerprint(load_public_key(made.public_path))


def test_a_key_is_never_overwritten(tmp_path: Path) -> None:
    made = generate_keypair(tmp_path, "k1")
    before = made.private_path.read_bytes()
    with pytest.raises(FileExistsError):
        generate_keypair(tmp_path, "k1")
    assert made.private_path.read_bytes() == before


def test_the_key_id_is_the_fingerprint_unless_configured(tmp_path: Path) -> None:
    made = generate_keypair(tmp_path)
    public = load_public_key(made.public_path)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert made.key_id == "ed25519-" + hashlib.sha256(raw).hexdigest()[:16]
    named = load_signer(
        Settings(home=tmp_path, signing_key_file=made.private_path, signing_key_id="hr-2026")
    )
    assert named.key_id == "hr-2026"


def test_a_key_can_come_from_the_environment_as_pem_or_raw_base64(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    raw = base64.b64encode(key.private_bytes(serialization.Encoding.Raw,
                                             serialization.PrivateFormat.Raw,
                                             serialization.NoEncryption())).decode()
    for value in (pem, raw):
        signer = load_signer(Settings(home=tmp_path, signing_key=value))  # type: ignore[arg-type]
        assert signer.key_id == key_fingerprint(key.public_key())


def test_verifiers_name_keys_by_file_or_by_id(tmp_path: Path) -> None:
    made = generate_keypair(tmp_path, "k1")
    assert parse_public_key_option(str(made.public_path))[0] == key_fingerprint(
        load_public_key(made.public_path)
    )
    assert parse_public_key_option(f"k1={made.public_path}")[0] == "k1"
