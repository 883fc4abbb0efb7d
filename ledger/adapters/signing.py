"""Ed25519 keys for checkpoints: loading, generating, signing, verifying.

Keys come from a file (`LEDGER_SIGNING_KEY_FILE`, PKCS#8 PEM) or the environment
(`LEDGER_SIGNING_KEY`: the PEM text, or the base64 of the 32-byte raw private key); there
is no default key, and asking to sign without one fails with `MissingSigningKeyError`.

Every checkpoint names its key by a key id. By default the id is the key's fingerprint,
``ed25519-`` + the first 16 hex digits of SHA-256 over the raw public key, so a verifier
holding only the public key file finds the id by itself; `LEDGER_SIGNING_KEY_ID`
overrides it (then give verifiers ``ID=FILE``). Rotating keys means: generate a new pair,
point the ledger at it; old checkpoints keep naming the old id, and verification takes a
set of public keys by id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.config import Settings
from ledger.errors import LedgerError

#: Public keys a verifier trusts, by key id.
KeyRing = Mapping[str, Ed25519PublicKey]


class MissingSigningKeyError(LedgerError):
    """Signing was needed and no key is configured."""

    code = "signing-key-missing"

    def __init__(self) -> None:
        super().__init__(
            "no signing key configured: create one with `ledger keys generate` and set "
            "LEDGER_SIGNING_KEY_FILE to the private key file (or put the key itself in "
            "LEDGER_SIGNING_KEY); checkpoints are never signed with a default key"
        )


class BadKeyError(LedgerError, ValueError):
    """A key file or value could not be read as an Ed25519 key."""

    code = "bad-key"


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519-" + hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """A private key and the id that checkpoints name it by."""

    key_id: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def sign(self, message: bytes) -> str:
        """Base64 of the Ed25519 signature."""
        return base64.b64encode(self.private_key.sign(message)).decode("ascii")


def verify_signature(keys: KeyRing, key_id: str, message: bytes, signature: str) -> str | None:
    """None when `signature` is `key_id`'s valid signature of `message`; else why not."""
    public_key = keys.get(key_id)
    if public_key is None:
        known = ", ".join(sorted(keys)) or "none"
        return f"signed by unknown key {key_id!r} (trusted keys: {known})"
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return "signature is not base64"
    try:
        public_key.verify(raw, message)
    except InvalidSignature:
        return f"signature does not verify with key {key_id!r}"
    return None


# --- loading -------------------------------------------------------------------------


def _private_from_bytes(data: bytes, origin: str) -> Ed25519PrivateKey:
    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(text, password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadKeyError(f"{origin}: not an Ed25519 private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKeyError(f"{origin}: a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file (a private key file is accepted too)."""
    data = path.read_bytes()
    try:
        if b"PRIVATE KEY" in data:
            return _private_from_bytes(data, str(path)).public_key()
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise BadKeyError(f"{path}: not an Ed25519 public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BadKeyError(f"{path}: a {type(key).__name__}, not an Ed25519 public key")
    return key


def signer_configured(settings: Settings) -> bool:
    return settings.signing_key_file is not None or settings.signing_key is not None


def load_signer(settings: Settings) -> Signer:
    """The configured signing key; `MissingSigningKeyError` when there is none."""
    if settings.signing_key_file is not None:
        path = settings.signing_key_file
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadKeyError(f"LEDGER_SIGNING_KEY_FILE {path}: {exc.strerror}") from exc
        key = _private_from_bytes(data, f"LEDGER_SIGNING_KEY_FILE {path}")
    elif settings.signing_key is not None:
        secret = settings.signing_key.get_secret_value().encode()
        key = _private_from_bytes(secret, "LEDGER_SIGNING_KEY")
    else:
        raise MissingSigningKeyError()
    return Signer(settings.signing_key_id or key_fingerprint(key.public_key()), key)


def parse_public_key_option(value: str) -> tuple[str, Ed25519PublicKey]:
    """`FILE` (id = the key's fingerprint) or `ID=FILE`, as verify commands take them."""
    key_id, sep, path = value.partition("=")
    if not sep or not key_id or Path(value).exists():
        public_key = load_public_key(Path(value))
        return key_fingerprint(public_key), public_key
    return key_id, load_public_key(Path(path))


# --- generating ----------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedKey:
    key_id: str
    private_path: Path
    public_path: Path


def generate_keypair(folder: Path, key_id: str | None = None) -> GeneratedKey:
    """Write a new Ed25519 pair: `<id>.key` (PKCS#8 PEM, mode 600) and `<id>.pub`.

    Refuses to overwrite: a signing key that existed must stay, or its checkpoints could
    no longer be tied to it.
    """
    private_key = Ed25519PrivateKey.generate()
    key_id = key_id or key_fingerprint(private_key.public_key())
    if not key_id or "/" in key_id or key_id.startswith("."):
        raise ValueError(f"key id {key_id!r} cannot name a file")
    folder.mkdir(parents=True, exist_ok=True)
    private_path = folder / f"{key_id}.key"
    public_path = folder / f"{key_id}.pub"
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: never replace an existing key; 0o600 from creation, never world-readable.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    private_path.chmod(0o600)  # exactly 600 whatever the umask
    public_path.write_bytes(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return GeneratedKey(key_id, private_path, public_path)
