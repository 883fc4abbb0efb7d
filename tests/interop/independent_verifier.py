"""A verifier of evidence documents written only from docs/evidence-format.md.

It shares no code with the ledger: hashlib, json, base64, `cryptography` for Ed25519 and
`rfc8785` (an independent JCS implementation). If the ledger's `verify-evidence` and this
disagree, either the code or the document is wrong. Section numbers refer to that page.

    problems = verify(document, {"key-id": raw_32_byte_public_key})
    ok = not problems
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE = "ledger-proofs/v1"
CHECKPOINT = "ledger-checkpoint/v1"
RECORDED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
ENTRY_MEMBERS = ("digest", "entry_hash", "prev_hash", "recorded_at", "kind", "stream",
                 "envelope", "received")
ENVELOPE_MEMBERS = {"type": "type", "source": "source", "time": "time", "event_id": "id"}
SECTIONS = ("liabilities", "positive_records", "violations", "deadlines", "escalations",
            "corrections", "links", "events")
PARTS = ("violation", "policy", "operation", "deadline", "step")
PART_LISTS = ("escalations", "appeals")
ABSENT = object()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def lstr(text: str) -> bytes:
    raw = text.encode("utf-8")
    return u32(len(raw)) + raw


def ed25519_ok(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- 2.1 to 2.4: one entry --------------------------------------------------------------


def digest_of(envelope: Any) -> str:
    return sha256(rfc8785.dumps(envelope)).hex()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a member name appears twice")
    return dict(pairs)


def _integer(text: str) -> int:
    value = int(text)
    if abs(value) > 2**53 - 1:
        raise ValueError("integer beyond 2^53 - 1")
    return value


def _number(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")) or Decimal(text) != Decimal(
            repr(value)):
        raise ValueError("a number a double does not hold exactly")
    return value


def _constant(text: str) -> Any:
    raise ValueError(f"{text} is not I-JSON")


def read_ijson(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_int=_integer,
                      parse_float=_number, parse_constant=_constant)


def entry_hash(prev_hash: str, position: int, digest: str) -> str:
    return sha256(b"ledger-entry-v1\x00" + bytes.fromhex(prev_hash) + u64(position)
                  + bytes.fromhex(digest)).hex()


def leaf_hash(tenant: str, entry: Mapping[str, Any], hashed: str) -> bytes:
    leaf = (b"ledger-leaf-v1\x00" + u64(entry["position"]) + bytes.fromhex(hashed)
            + lstr(tenant) + lstr(entry["kind"]) + lstr(entry["stream"])
            + lstr(entry["recorded_at"]))
    return sha256(b"\x00" + leaf)


def root_from_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2, as section 2.4 spells it."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha256(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def entry_problem(entry: Any, tenant: str, checkpoint: Mapping[str, Any]) -> str | None:
    """Section 2.7.3."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("envelope"), Mapping):
        return "not an entry"
    envelope, position = entry["envelope"], entry.get("position")
    if type(position) is not int:
        return "no integer position"
    if envelope.get("tenant") != tenant:
        return "the envelope is another tenant's"
    digest = digest_of(envelope)
    if digest != entry.get("digest"):
        return "the digest is not the envelope's"
    if "received" in entry:
        try:
            received = read_ijson(entry["received"]) if isinstance(entry["received"],
                                                                   str) else None
        except ValueError:
            received = None
        if not isinstance(received, dict) or digest_of(received) != digest:
            return "the text as received does not read as the envelope"
    try:
        hashed = entry_hash(str(entry["prev_hash"]), position, digest)
    except ValueError:
        return "prev_hash is not hex"
    if hashed != entry.get("entry_hash"):
        return "the entry hash does not follow"
    if not isinstance(entry.get("recorded_at"), str) or not RECORDED_AT.fullmatch(
            entry["recorded_at"]):
        return "recorded_at is not written YYYY-MM-DDTHH:MM:SS.ffffffZ"
    if not isinstance(entry.get("kind"), str) or not isinstance(entry.get("stream"), str):
        return "kind or stream is not a string"
    leaf = leaf_hash(tenant, entry, hashed)
    if "leaf_hash" in entry and entry["leaf_hash"] != leaf.hex():
        return "the leaf hash is not the entry's"
    size = checkpoint["tree_size"]
    if not 1 <= position <= size:
        return "the position is outside the checkpoint's tree"
    try:
        path = [bytes.fromhex(h) for h in entry["inclusion_proof"]]
    except (KeyError, TypeError, ValueError):
        return "the inclusion proof is not a list of hex hashes"
    if root_from_path(position - 1, size, leaf, path) != bytes.fromhex(checkpoint["root_hash"]):
        return "the inclusion proof does not lead to the checkpoint's root"
    return None


# --- 2.5 and 2.6: the checkpoint -----------------------------------------------------------


def checkpoint_problem(checkpoint: Any, tenant: Any, keys: Mapping[str, bytes]) -> str | None:
    if not isinstance(checkpoint, Mapping) or checkpoint.get("format") != CHECKPOINT:
        return "no checkpoint"
    body = {k: v for k, v in checkpoint.items() if k not in ("sequence", "signature")}
    if set(body) != {"format", "tenant", "tree_size", "root_hash", "timestamp", "key_id"}:
        return "the checkpoint's members are not the signed statement's"
    if type(body["tree_size"]) is not int:
        return "the tree size is not an integer"
    public = keys.get(str(body["key_id"]))
    if public is None:
        return "signed by a key not trusted"
    try:
        signature = base64.b64decode(str(checkpoint.get("signature")), validate=True)
    except ValueError:
        return "the signature is not base64"
    if not ed25519_ok(public, signature, rfc8785.dumps(body)):
        return "the checkpoint's signature does not verify"
    if body["tenant"] != tenant:
        return "the checkpoint is another tenant's"
    return None


def note_key_id(name: str, kind: int, public: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + bytes([kind]) + public)[:4]


def note_problem(note: Any, checkpoint: Mapping[str, Any], keys: Mapping[str, bytes],
                 witnesses: Mapping[str, bytes]) -> str | None:
    """Section 2.6: the log's signature, and those of the witnesses given (by name)."""
    if note is None:
        return None
    if not isinstance(note, str) or "\n\n" not in note or not note.endswith("\n"):
        return "the signed note is malformed"
    cut = note.rfind("\n\n")
    text, lines = note[:cut + 1], note[cut + 2:].splitlines()
    head = text.split("\n")
    try:
        size, root = int(head[1]), base64.b64decode(head[2], validate=True)
    except (IndexError, ValueError):
        return "the note's text is not a checkpoint"
    if (size, root.hex()) != (checkpoint.get("tree_size"), checkpoint.get("root_hash")):
        return "the note states another tree"
    origin = head[0]
    known = {(origin, note_key_id(origin, 0x01, k)): (0x01, k) for k in keys.values()}
    known |= {(n, note_key_id(n, 0x04, k)): (0x04, k) for n, k in witnesses.items()}
    verified = set()
    for line in lines:
        dash, _, rest = line.partition(" ")
        name, _, blob = rest.partition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            return "a signature line is not base64"
        if dash != "\u2014" or len(raw) <= 4:
            return "a signature line is malformed"
        kind_key = known.get((name, raw[:4]))
        if kind_key is None:
            continue
        kind, public = kind_key
        message, signature = text.encode(), raw[4:]
        if kind == 0x04:
            if len(signature) != 72:
                return f"the cosignature of {name} is malformed"
            when = int.from_bytes(signature[:8], "big")
            message = f"cosignature/v1\ntime {when}\n{text}".encode()
            signature = signature[8:]
        if not ed25519_ok(public, signature, message):
            return f"the note's signature by {name} does not verify"
        verified.add(name)
    if origin not in verified:
        return "the note carries no verifying signature of the log"
    missing = sorted(set(witnesses) - verified)
    return f"no cosignature of {', '.join(missing)}" if missing else None


# --- 2.7: the bundle -----------------------------------------------------------------------


def bundle_problems(bundle: Any, keys: Mapping[str, bytes],
                    witnesses: Mapping[str, bytes]) -> list[str]:
    if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE:
        return ["no proof bundle (proofs is null: the document was never signed)"]
    tenant, checkpoint = bundle.get("tenant"), bundle.get("checkpoint")
    problem = checkpoint_problem(checkpoint, tenant, keys)
    if problem is not None or not isinstance(checkpoint, Mapping):
        return [problem or "no checkpoint"]
    problems = []
    problem = note_problem(bundle.get("signed_note"), checkpoint, keys, witnesses)
    if problem is not None:
        problems.append(problem)
    entries = bundle.get("entries")
    if not isinstance(entries, list) or not entries:
        return [*problems, "the bundle proves nothing: no entries"]
    seen: set[Any] = set()
    for entry in entries:
        problem = entry_problem(entry, str(tenant), checkpoint)
        position = entry.get("position") if isinstance(entry, Mapping) else None
        if problem is not None:
            problems.append(f"entry at {position}: {problem}")
        elif position in seen:
            problems.append(f"entry at {position} appears twice")
        seen.add(position)
    return problems


# --- 3: the records shown ------------------------------------------------------------------


def walk(node: Any, where: str = "$") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every object outside the top-level `proofs`."""
    if isinstance(node, Mapping):
        yield where, node
        for key, value in node.items():
            if not (where == "$" and key == "proofs"):
                yield from walk(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}[{index}]")


def at_path(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return ABSENT
        value = value[part]
    return value


def record_problems(record: Mapping[str, Any], entry: Mapping[str, Any]) -> list[str]:
    """Rules 3.1.1 to 3.1.3 for one record and its entry."""
    envelope = entry["envelope"]
    data = envelope.get("data") if isinstance(envelope.get("data"), Mapping) else {}
    whole = "envelope" in record
    problems = []
    for name, value in record.items():
        if name in ("position", "corrected_position"):
            continue
        if name in data and not whole:
            expected = data[name]
        elif name in ENTRY_MEMBERS:
            expected = entry.get(name)
        elif name in ENVELOPE_MEMBERS:
            expected = envelope.get(ENVELOPE_MEMBERS[name])
        else:
            continue
        if value != expected:
            problems.append(f"{name} differs from the proven entry")
    payload = data.get("payload")
    read = record.get("values_read") or {}
    problems += [f"value at {p} differs" for p, v in read.items() if at_path(payload, p) != v]
    problems += [f"{p} is not missing" for p in record.get("missing_fields") or []
                 if at_path(payload, p) is not ABSENT]
    if envelope.get("type") == "ledger.process.defined" and "step" in record:
        steps = [s for s in data.get("steps") or []
                 if isinstance(s, Mapping) and s.get("step") == record["step"]]
        if not steps:
            problems.append("no such step in the proven process")
        else:
            problems += [f"the step's {k} differs" for k in
                         ("title", "output_standard", "required_outputs", "due")
                         if k in record and record[k] != steps[0].get(k)]
    return problems


def correction_problems(record: Mapping[str, Any], proven: Mapping[Any, Any]) -> list[str]:
    """Rule 3.1.4, the correction named."""
    entry = proven.get(record["corrected_position"])
    if entry is None:
        return ["its correction is not proven"]
    envelope = entry["envelope"]
    data = envelope.get("data") or {}
    if envelope.get("type") != "liability.corrected" or data.get(
            "liability_id") != record.get("liability_id"):
        return ["the position named is not its correction"]
    return [f"{shown} differs from the correction" for shown, name in
            (("corrected_reason", "reason"), ("replaced_by", "replaced_by"))
            if shown in record and record[shown] != data.get(name)]


def positioned(record: Any) -> bool:
    return isinstance(record, Mapping) and type(record.get("position")) is int


def unnamed(document: Mapping[str, Any]) -> list[str]:
    """Rule 3.1.5."""
    problems = []
    for section in SECTIONS:
        records = document.get(section)
        for index, record in enumerate(records if isinstance(records, list) else []):
            if not positioned(record):
                problems.append(f"$.{section}[{index}] names no position")
            explanation = record.get("explanation") if section == "liabilities" and isinstance(
                record, Mapping) else None
            if not isinstance(explanation, Mapping):
                continue
            parts = [explanation[p] for p in PARTS if p in explanation]
            for name in PART_LISTS:
                if name in explanation:
                    values = explanation[name]
                    parts += values if isinstance(values, list) else [None]
            if not all(positioned(p) for p in parts):
                problems.append(f"$.{section}[{index}]: an explanation part names no position")
    return problems


def hidden(document: Mapping[str, Any], proven: Mapping[Any, Any]) -> list[str]:
    """Rules 3.1.4 (status), 3.1.6 and 3.1.7."""
    shown = [li for li in document.get("liabilities") or [] if isinstance(li, Mapping)]
    ids = [li.get("liability_id") for li in shown]
    problems = [f"liability {i} is shown twice" for n, i in enumerate(ids) if i in ids[:n]]
    at = {li.get("position") for li in shown}
    marked = {li.get("liability_id") for li in shown if li.get("corrected_position") is not None}
    for li in shown:
        says = li.get("status") == "corrected" or li.get("corrected") is True
        if says != (li.get("corrected_position") is not None):
            problems.append(f"liability {li.get('liability_id')}: corrected or not?")
    for key in ("employee_id", "case_id"):
        if key in document:
            problems += [f"liability {li.get('liability_id')} is not this {key}'s"
                         for li in shown if li.get(key) != document[key]]
    for position, entry in proven.items():
        envelope = entry["envelope"]
        data = envelope.get("data") or {}
        if envelope.get("type") == "liability.assigned" and position not in at:
            problems.append(f"the proven liability at {position} is not shown")
        if envelope.get("type") == "liability.corrected" and data.get(
                "liability_id") in ids and data.get("liability_id") not in marked:
            problems.append(f"the proven correction at {position} is hidden")
    return problems


def verify(document: Mapping[str, Any], keys: Mapping[str, bytes],
           witnesses: Mapping[str, bytes] | None = None) -> list[str]:
    """The problems of a document (empty: it verifies). `keys`: the ledger's raw Ed25519
    public keys by key id; `witnesses`: raw public keys of witnesses whose cosignature
    is required, by witness name."""
    bare = "proofs" not in document
    bundle = document if bare else document["proofs"]
    problems = bundle_problems(bundle, keys, witnesses or {})
    if bare or not isinstance(bundle, Mapping):
        return problems
    found = bundle.get("entries")
    entries: list[Any] = found if isinstance(found, list) else []
    proven = {e.get("position"): e for e in entries
              if isinstance(e, Mapping) and isinstance(e.get("envelope"), Mapping)}
    for where, record in walk(document):
        if positioned(record):
            entry = proven.get(record["position"])
            if entry is None:
                problems.append(f"{where}: position {record['position']} is not proven")
            else:
                problems += [f"{where}: {p}" for p in record_problems(record, entry)]
        if record.get("corrected_position") is not None:
            problems += [f"{where}: {p}" for p in correction_problems(record, proven)]
    problems += unnamed(document)
    if "liabilities" in document:
        problems += hidden(document, proven)
    return problems
