"""API tokens and the evidence-read audit trail, kept as events in the store.

Tokens are event-sourced like everything else: issuing and revoking are facts with who
and when, so `ledger token list` can say who created a token and who revoked it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import cast

from eventsourcing.utils import get_topic

from ledger.adapters.eventstore import AppendConflict, EventStore
from ledger.clock import Clock
from ledger.domain.access import (
    EvidenceRead,
    Principal,
    Role,
    TokenIssued,
    TokenRevoked,
    audit_stream_id,
    format_token,
    parse_token,
    secret_digest,
    secret_matches,
    token_stream_id,
)

CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class TokenInfo:
    issued: TokenIssued
    revoked: TokenRevoked | None


class TokenService:
    def __init__(self, store: EventStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._cache: dict[str, tuple[float, TokenInfo | None]] = {}

    def create(self, tenant: str, role: Role, unit_id: str | None, issued_by: str) -> str:
        """Issue a token and return it; it is never shown again (only its hash is kept)."""
        if role is Role.MANAGER and not unit_id:
            raise ValueError("a manager token needs --unit: managers read their unit's subtree")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        self.store.append(
            [
                TokenIssued(
                    originator_id=token_stream_id(token_id),
                    originator_version=1,
                    timestamp=self.clock(),
                    token_id=token_id,
                    tenant=tenant,
                    role=role.value,
                    unit_id=unit_id,
                    secret_sha256=secret_digest(secret),
                    issued_by=issued_by,
                )
            ]
        )
        return format_token(token_id, secret)

    def revoke(self, token_id: str, revoked_by: str) -> bool:
        info = self.get(token_id)
        if info is None or info.revoked is not None:
            return False
        try:
            self.store.append(
                [
                    TokenRevoked(
                        originator_id=token_stream_id(token_id),
                        originator_version=2,
                        timestamp=self.clock(),
                        token_id=token_id,
                        revoked_by=revoked_by,
                    )
                ]
            )
        except AppendConflict:
            return False
        self._cache.pop(token_id, None)
        return True

    def get(self, token_id: str) -> TokenInfo | None:
        events = self.store.stream_events(token_stream_id(token_id))
        if not events:
            return None
        issued = cast(TokenIssued, events[0])
        revoked = cast(TokenRevoked, events[1]) if len(events) > 1 else None
        return TokenInfo(issued, revoked)

    def list(self, tenant: str | None = None) -> list[TokenInfo]:
        infos = []
        for event in self.store.events_of_topic(get_topic(TokenIssued)):
            issued = cast(TokenIssued, event)
            if tenant is None or issued.tenant == tenant:
                info = self.get(issued.token_id)
                if info is not None:
                    infos.append(info)
        return sorted(infos, key=lambda i: i.issued.timestamp)

    def authenticate(self, presented: str) -> Principal | None:
        """The principal of a valid, unrevoked token; None otherwise.

        Token records are cached for CACHE_SECONDS, so a revocation takes effect within
        that time in every process; the secret is checked on every call.
        """
        parsed = parse_token(presented)
        if parsed is None:
            return None
        token_id, secret = parsed
        now = time.monotonic()
        cached = self._cache.get(token_id)
        if cached is None or now - cached[0] > CACHE_SECONDS:
            cached = (now, self.get(token_id))
            self._cache[token_id] = cached
        info = cached[1]
        if info is None or info.revoked is not None or not secret_matches(secret, info.issued):
            return None
        issued = info.issued
        return Principal(issued.token_id, issued.tenant, Role(issued.role), issued.unit_id)


class AuditTrail:
    """Appends who read which evidence, per tenant, in order."""

    def __init__(self, store: EventStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def record(self, principal: Principal, route: str, subject: str, query: str) -> None:
        stream = audit_stream_id(principal.tenant)
        for _ in range(20):
            version = self.store.stream_version(stream) + 1
            try:
                self.store.append(
                    [
                        EvidenceRead(
                            originator_id=stream,
                            originator_version=version,
                            timestamp=self.clock(),
                            tenant=principal.tenant,
                            token_id=principal.token_id,
                            role=principal.role.value,
                            route=route,
                            subject=subject,
                            query=query,
                        )
                    ]
                )
                return
            except AppendConflict:
                continue
        raise RuntimeError("could not record the evidence read: the audit trail is contended")

    def reads(self, tenant: str) -> list[EvidenceRead]:
        return [cast(EvidenceRead, e) for e in self.store.stream_events(audit_stream_id(tenant))]
