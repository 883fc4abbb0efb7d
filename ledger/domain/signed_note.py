"""Checkpoints as standard signed notes (C2SP signed-note, tlog-checkpoint, tlog-cosignature).

Our own checkpoint format (checkpoint.py) carries what the ledger's verifier needs; this
module renders the same statement in the format that transparency tooling already speaks,
so that outsiders (witnesses, monitors, Go's `sumdb/note`) can verify and cosign it:

    <origin>\\n<tree size>\\n<base64 root hash>\\n      (the note text, a tlog-checkpoint)
    \\n
    — <key name> base64(key id || signature)\\n        (one line per signature)

The origin names one tenant's log (`<prefix>/<tenant>`); the log signs with Ed25519
(signature type 0x01) under a key name equal to the origin; witnesses add timestamped
Ed25519 cosignatures (type 0x04) over `cosignature/v1\\ntime <t>\\n` + the note text.
Pure formatting and parsing only: signing and verifying live in adapters/notes.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from ledger.errors import LedgerError

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
EM_DASH = "\u2014"
#: Log origins are `<prefix>/<tenant>`; a deployment names its own prefix (its host name).
DEFAULT_ORIGIN_PREFIX = "ledger.local"
#: C2SP asks verifiers to accept at least 16 signatures; more is refused as abuse.
MAX_SIGNATURES = 64
MAX_NOTE_BYTES = 64 * 1024


class NoteFormatError(LedgerError, ValueError):
    """The text is not a well-formed signed note or checkpoint."""

    code = "note-format"


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: who signed (name and key id) and the signature bytes after the id."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{EM_DASH} {self.name} {blob}\n"


@dataclass(frozen=True, slots=True)
class SignedNote:
    text: str
    signatures: tuple[NoteSignature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The first three lines of a checkpoint: which log, how many leaves, which root."""

    origin: str
    tree_size: int
    root_hash: bytes

    def note_text(self) -> str:
        root = base64.b64encode(self.root_hash).decode("ascii")
        return f"{self.origin}\n{self.tree_size}\n{root}\n"


def origin_for(prefix: str, tenant: str) -> str:
    """A tenant's log identity: schema-less, no spaces or '+', as C2SP recommends."""
    return f"{prefix.rstrip('/')}/{tenant}"


def check_key_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteFormatError(f"key name {name!r} is empty or holds a space or '+'")
    return name


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4], the key id of C2SP signed-note."""
    check_key_name(name)
    material = name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key
    return hashlib.sha256(material).digest()[:4]


def vkey(name: str, signature_type: int, public_key: bytes) -> str:
    """The verifier key text: `<name>+<hex key id>+<base64(type || public key)>`."""
    kid = key_id(name, signature_type, public_key).hex()
    blob = base64.b64encode(bytes([signature_type]) + public_key).decode("ascii")
    return f"{name}+{kid}+{blob}"


@dataclass(frozen=True, slots=True)
class VerifierKey:
    name: str
    key_id: bytes
    signature_type: int
    public_key: bytes


def parse_vkey(text: str) -> VerifierKey:
    name, sep1, rest = text.strip().partition("+")
    kid_hex, sep2, blob = rest.partition("+")
    if not (sep1 and sep2):
        raise NoteFormatError("a verifier key is <name>+<hex id>+<base64 key>")
    try:
        kid = bytes.fromhex(kid_hex)
        raw = base64.b64decode(blob, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise NoteFormatError(f"verifier key {text!r}: {exc}") from exc
    if len(kid) != 4 or len(raw) < 2:
        raise NoteFormatError(f"verifier key {text!r}: bad key id or key")
    parsed = VerifierKey(check_key_name(name), kid, raw[0], raw[1:])
    if key_id(parsed.name, parsed.signature_type, parsed.public_key) != kid:
        raise NoteFormatError(f"verifier key {text!r}: its key id does not match its key")
    return parsed


def parse_note(data: str) -> SignedNote:
    """Split a signed note into its text and signature lines, checking the format."""
    if len(data.encode("utf-8")) > MAX_NOTE_BYTES:
        raise NoteFormatError(f"note larger than {MAX_NOTE_BYTES} bytes")
    if any(ord(c) < 0x20 and c != "\n" for c in data):
        raise NoteFormatError("note holds a control character")
    cut = data.rfind("\n\n")
    if cut < 0 or not data.endswith("\n"):
        raise NoteFormatError("no blank line between the text and its signatures")
    text, lines = data[: cut + 1], data[cut + 2 :].splitlines()
    if not lines:
        raise NoteFormatError("a signed note has at least one signature")
    if len(lines) > MAX_SIGNATURES:
        raise NoteFormatError(f"more than {MAX_SIGNATURES} signatures")
    return SignedNote(text, tuple(_signature(line) for line in lines))


def _signature(line: str) -> NoteSignature:
    prefix, _, rest = line.partition(" ")
    name, _, blob = rest.partition(" ")
    if prefix != EM_DASH or not name or not blob or " " in blob:
        raise NoteFormatError(f"not a signature line: {line!r}")
    try:
        raw = base64.b64decode(blob, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise NoteFormatError(f"signature of {name!r} is not base64") from exc
    if len(raw) <= 4:
        raise NoteFormatError(f"signature of {name!r} is too short")
    return NoteSignature(check_key_name(name), raw[:4], raw[4:])


def parse_tree_head(text: str) -> TreeHead:
    """The origin, size and root of a checkpoint's note text (extension lines ignored)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteFormatError("a checkpoint is at least three non-empty lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isdigit() or (size != "0" and size.startswith("0")) or not size.isascii():
        raise NoteFormatError(f"tree size {size!r} is not a decimal without leading zeroes")
    try:
        root_hash = base64.b64decode(root, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise NoteFormatError("root hash is not base64") from exc
    if len(root_hash) != 32:
        raise NoteFormatError("root hash is not 32 bytes")
    return TreeHead(origin, int(size), root_hash)


def cosigned_message(note_text: str, timestamp: int) -> bytes:
    """What an Ed25519 cosignature (tlog-cosignature v1) signs."""
    if not 0 <= timestamp < 2**63:
        raise NoteFormatError(f"cosignature time {timestamp} out of range")
    return f"cosignature/v1\ntime {timestamp}\n{note_text}".encode()


_U64 = struct.Struct(">Q")


def timestamped(timestamp: int, signature: bytes) -> bytes:
    return _U64.pack(timestamp) + signature


def split_timestamped(blob: bytes) -> tuple[int, bytes]:
    if len(blob) != 8 + 64:
        raise NoteFormatError("a timestamped Ed25519 signature is 72 bytes")
    return _U64.unpack(blob[:8])[0], blob[8:]
