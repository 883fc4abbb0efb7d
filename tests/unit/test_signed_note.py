"""Checkpoints as C2SP signed notes: the published test vectors, and what a verifier refuses."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.adapters.notes import cosign_note, cosigner_vkey, log_vkey, sign_note, verify_note
from ledger.domain.signed_note import (
    NoteFormatError,
    SignedNote,
    TreeHead,
    parse_note,
    parse_tree_head,
    parse_vkey,
)

# c2sp.org/signed-note, "Verifier keys: Example".
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# golang.org/x/mod/sumdb/note's TestSign: its private key and the note it must produce.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = GO_TEXT + (
    "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
    "qfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def _go_private_key() -> Ed25519PrivateKey:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
    return Ed25519PrivateKey.from_private_bytes(seed)


def test_the_c2sp_example_note_verifies_with_its_verifier_key() -> None:
    check = verify_note(parse_note(C2SP_NOTE), [parse_vkey(C2SP_VKEY)])
    assert check.ok and check.verified_by == ("example.com/foo",)


def test_signing_go_s_example_text_gives_go_s_exact_note_and_verifier_key() -> None:
    key = _go_private_key()
    note = SignedNote(GO_TEXT, (sign_note(key, "PeterNeumann", GO_TEXT),))
    assert note.render() == GO_NOTE
    assert log_vkey("PeterNeumann", key.public_key()) == GO_VKEY


def test_a_changed_text_fails_verification_with_the_signers_name() -> None:
    tampered = GO_NOTE.replace("problem is", "problems are")
    check = verify_note(parse_note(tampered), [parse_vkey(GO_VKEY)])
    assert not check.ok and "PeterNeumann" in (check.problem or "")


def test_signatures_of_unknown_keys_are_ignored_and_none_known_is_a_refusal() -> None:
    other = Ed25519PrivateKey.generate()
    check = verify_note(parse_note(GO_NOTE), [parse_vkey(log_vkey("Other", other.public_key()))])
    assert not check.ok and check.problem == "no signature from a trusted key"


def test_a_checkpoint_round_trips_through_its_note_text() -> None:
    head = TreeHead("ledger.example/acme", 1234, bytes(range(32)))
    assert parse_tree_head(head.note_text()) == head


def test_a_witness_cosignature_verifies_and_carries_its_time() -> None:
    log, witness = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    text = TreeHead("ledger.example/acme", 7, bytes(32)).note_text()
    note = SignedNote(text, (sign_note(log, "ledger.example/acme", text),
                             cosign_note(witness, "witness.example/w1", text, 1_700_000_000)))
    keys = [parse_vkey(log_vkey("ledger.example/acme", log.public_key())),
            parse_vkey(cosigner_vkey("witness.example/w1", witness.public_key()))]
    check = verify_note(parse_note(note.render()), keys)
    assert check.ok and check.verified_by == ("ledger.example/acme", "witness.example/w1")
    assert check.cosigned_at == {"witness.example/w1": 1_700_000_000}


@pytest.mark.parametrize(
    "text",
    [
        "no blank line\n\u2014 a AAAAAAAA\n",
        "text\n\n",
        "text\n\n- a AAAAAAAAAA==\n",
        "text\n\n\u2014 a b c\n",
        "text\x00\n\n\u2014 a AAAAAAAAAA==\n",
        "text\n\n\u2014 a AAAA\n",
    ],
    ids=["no-separator", "no-signature", "hyphen", "three-fields", "control", "short"],
)
def test_malformed_notes_are_refused_as_such(text: str) -> None:
    with pytest.raises(NoteFormatError):
        parse_note(text)


@pytest.mark.parametrize(
    "text",
    ["a\n01\n" + base64.b64encode(bytes(32)).decode() + "\n", "a\n1\nAAAA\n", "a\n1\n",
     "a\n\n1\nAAAA\n"],
    ids=["leading-zero", "short-root", "two-lines", "empty-line"],
)
def test_malformed_checkpoints_are_refused_as_such(text: str) -> None:
    with pytest.raises(NoteFormatError):
        parse_tree_head(text)


def test_a_verifier_key_whose_id_does_not_match_its_key_is_refused() -> None:
    with pytest.raises(NoteFormatError):
        parse_vkey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
