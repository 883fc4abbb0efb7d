"""Who may do what: roles, principals and API tokens, as pure rules.

A token is shown once and stored only as its SHA-256; its id travels in the clear so a
presented token is found without scanning and compared in constant time. A presented
token of any other shape than the ones issued (`parse_token`) is refused before any
look-up, so a bogus one costs neither a store read, a hash nor a cache entry.

A publisher token may be scoped to sources and event-type prefixes: it then publishes
only events of those sources whose type starts with one of the prefixes. Scoping a
token per upstream system keeps another publisher of the tenant from taking that
system's idempotency keys (`source` is part of the key) before the system itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from ledger.domain.envelope import derived_uuid

TOKEN_PREFIX = "lt"
#: What `format_token` makes of `secrets.token_hex(6)` and `secrets.token_urlsafe(32)`.
TOKEN_SHAPE = re.compile(r"lt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
TOKEN_LENGTH = 3 + 12 + 1 + 43
SOURCE_FORBIDDEN = "source_forbidden"


class Role(StrEnum):
    PUBLISHER = "publisher"  # posts events for its tenant, reads nothing
    AUDITOR = "auditor"  # reads everything of its tenant
    HR = "hr"  # evidence, liabilities, reports of its tenant
    MANAGER = "manager"  # their unit's subtree, as the org chart stands now
    ADMIN = "admin"  # manages tokens


class Capability(StrEnum):
    PUBLISH = "publish"
    READ_CHAINS = "read_chains"  # case chains, case events, proofs
    READ_VIOLATIONS = "read_violations"
    READ_LIABILITIES = "read_liabilities"
    READ_EVIDENCE = "read_evidence"
    READ_REPORTS = "read_reports"
    READ_AUDIT = "read_audit"  # the evidence-read audit trail: who read whose evidence
    READ_OBLIGATIONS = "read_obligations"  # the obligation queue (8.7)
    READ_SCORES = "read_scores"  # appraisal scores (8.6)
    READ_PERMISSIONS = "read_permissions"  # who held a permission when (8.4)
    MANAGE_TOKENS = "manage_tokens"


GRANTS: dict[Role, frozenset[Capability]] = {
    Role.PUBLISHER: frozenset({Capability.PUBLISH}),
    Role.AUDITOR: frozenset(
        {
            Capability.READ_CHAINS,
            Capability.READ_VIOLATIONS,
            Capability.READ_LIABILITIES,
            Capability.READ_EVIDENCE,
            Capability.READ_REPORTS,
            Capability.READ_AUDIT,
            Capability.READ_OBLIGATIONS,
            Capability.READ_SCORES,
            Capability.READ_PERMISSIONS,
        }
    ),
    Role.HR: frozenset(
        {
            Capability.READ_LIABILITIES,
            Capability.READ_EVIDENCE,
            Capability.READ_REPORTS,
            Capability.READ_SCORES,
            Capability.READ_PERMISSIONS,
        }
    ),
    Role.MANAGER: frozenset(
        {
            Capability.READ_CHAINS,
            Capability.READ_VIOLATIONS,
            Capability.READ_LIABILITIES,
            Capability.READ_EVIDENCE,
            Capability.READ_REPORTS,
            Capability.READ_OBLIGATIONS,  # their units' queue
            Capability.READ_SCORES,  # their units' people
        }
    ),
    # Admins issue the tokens, so they may see what was read with them; they read no data.
    Role.ADMIN: frozenset({Capability.MANAGE_TOKENS, Capability.READ_AUDIT}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as its token says: always exactly one tenant."""

    token_id: str
    tenant: str
    role: Role
    unit_id: str | None = None
    #: A publisher's scope: its sources (empty: any) and event-type prefixes (empty: any).
    sources: frozenset[str] = frozenset()
    type_prefixes: tuple[str, ...] = ()

    def may(self, capability: Capability) -> bool:
        return capability in GRANTS[self.role]

    def out_of_scope(self, source: str, event_type: str) -> str | None:
        """Why this principal may not publish an event of `source` and `event_type`, or
        None when it may."""
        if self.sources and source not in self.sources:
            return (f"this token publishes for the sources {sorted(self.sources)} only, "
                    f"not {source!r}")
        if self.type_prefixes and not event_type.startswith(self.type_prefixes):
            return (f"this token publishes event types starting with "
                    f"{list(self.type_prefixes)} only, not {event_type!r}")
        return None

    @property
    def scoped_to_unit(self) -> bool:
        return self.role is Role.MANAGER


@dataclass(frozen=True)
class TokenIssued:
    """An API token was created; only the hash of its secret is kept."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    token_id: str
    tenant: str
    role: str
    unit_id: str | None
    secret_sha256: str
    issued_by: str
    # A publisher's scope (see Principal); defaults, so tokens stored before scopes load.
    sources: tuple[str, ...] = ()
    type_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenRevoked:
    originator_id: UUID
    originator_version: int
    timestamp: datetime
    token_id: str
    revoked_by: str


@dataclass(frozen=True)
class EvidenceRead:
    """Someone read evidence: whoever reads evidence is audited.

    Who (`token_id`: the token's id, or `cli:<user>` for the export CLI; `role`), what
    (`route`; `subject`: the employee, empty for a unit report; `query`: the period and
    format asked for, as a URL query string `from=..&to=..&format=..`), when (`timestamp`,
    from the reading service's injected clock).
    """

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    tenant: str
    token_id: str
    role: str
    route: str
    subject: str
    query: str


def token_stream_id(token_id: str) -> UUID:
    return derived_uuid("token", token_id)


def audit_stream_id(tenant: str) -> UUID:
    return derived_uuid("audit", tenant)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def format_token(token_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}_{token_id}_{secret}"


def parse_token(presented: str) -> tuple[str, str] | None:
    """(token id, secret) of a token of the issued shape, else None; the length is judged
    first, so a token of megabytes is never scanned."""
    if len(presented) != TOKEN_LENGTH:
        return None
    shaped = TOKEN_SHAPE.fullmatch(presented)
    if shaped is None:
        return None
    return shaped[1], shaped[2]


def secret_matches(secret: str, issued: TokenIssued) -> bool:
    return hmac.compare_digest(secret_digest(secret), issued.secret_sha256)


def unit_subtree(root: str, parent_of: Mapping[str, str | None]) -> frozenset[str]:
    """`root` and every unit below it, given each unit's parent (as the org stands now).

    A manager reads their unit's subtree; a cycle in bad org data ends the walk instead of
    looping, and a root unknown to the org chart is still its own (empty) subtree.
    """
    children: dict[str, list[str]] = {}
    for unit, parent in parent_of.items():
        if parent is not None:
            children.setdefault(parent, []).append(unit)
    found = {root}
    frontier = [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return frozenset(found)
