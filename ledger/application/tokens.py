"""API tokens and the evidence-read audit trail, kept as events in the store.

Tokens are event-sourced like everything else: issuing and revoking are facts with who
and when, so `ledger token list` can say who created a token and who revoked it.

Revocation semantics: `authenticate` caches each token's record for CACHE_SECONDS (a
request should not cost a store read) in a cache of at most `cache_size` records, the
least recently used going first; only tokens of the issued shape are ever looked up.
A revocation made in this process, through any TokenService (the API's DELETE route,
the CLI run in-process), takes effect at once: it marks the token process-wide and every
cache re-reads it. A revocation made by another
process (`ledger token revoke` beside a running server) takes effect there within
CACHE_SECONDS.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from eventsourcing.utils import get_topic

from ledger.adapters.clock import Clock
from ledger.adapters.store import AppendConflict, EventStore
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
#: The default of LEDGER_TOKEN_CACHE_SIZE (ledger.config).
CACHE_SIZE = 10_000
TENANT_PATTERN = re.compile(r"^[a-z0-9-]{1,63}$")
#: A scope's source: as the envelope schema's `source` (no spaces or control characters).
SOURCE_PATTERN = re.compile(r"^[^\s\x00-\x1f\x7f]{1,200}$")
#: An event-type prefix: the start of a dotted type name.
TYPE_PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,199}$")

#: Revocations made by any TokenService of this process: token id -> the revocation's
#: number in a process-wide sequence. A cached record read before that number is stale.
_revocations: dict[str, int] = {}
_sequence = 0
_sequence_lock = threading.Lock()


def _current_sequence() -> int:
    with _sequence_lock:
        return _sequence


def _mark_revoked(token_id: str) -> None:
    global _sequence
    with _sequence_lock:
        _sequence += 1
        _revocations[token_id] = _sequence


def _revoked_since(token_id: str, sequence: int) -> bool:
    with _sequence_lock:
        return _revocations.get(token_id, 0) > sequence


@dataclass(frozen=True, slots=True)
class _Cached:
    read_at: float  # the service's monotonic clock
    sequence: int  # _current_sequence() before the record was read
    info: TokenInfo | None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    issued: TokenIssued
    revoked: TokenRevoked | None


@dataclass(frozen=True, slots=True)
class Scope:
    """What a publisher token may publish: events of `sources` (empty: any source) whose
    type starts with one of `type_prefixes` (empty: any type)."""

    sources: tuple[str, ...] = ()
    type_prefixes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sources or self.type_prefixes)

    def check(self) -> None:
        for source in self.sources:
            if not SOURCE_PATTERN.match(source):
                raise ValueError(f"not a source (as in the events' `source`): {source!r}")
        for prefix in self.type_prefixes:
            if not TYPE_PREFIX_PATTERN.match(prefix):
                raise ValueError(f"not an event-type prefix such as 'ledger.operation.': "
                                 f"{prefix!r}")


class TokenService:
    def __init__(
        self, store: EventStore, clock: Clock, *, cache_seconds: float = CACHE_SECONDS,
        cache_size: int = CACHE_SIZE, monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.clock = clock
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self.monotonic = monotonic
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_lock = threading.Lock()

    def create(
        self, tenant: str, role: Role, unit_id: str | None, issued_by: str, *,
        scope: Scope | None = None, defined_unit_only: bool = False,
    ) -> str:
        """Issue a token and return it; it is never shown again (only its hash is kept).

        `scope`: publishers only. `defined_unit_only`: a manager's unit must have been
        defined (`ledger.org.unit.defined`) in the tenant's ledger; the operators' ways in
        (`ledger token create`, POST /v1/tokens) ask for it, so a typo cannot make a
        manager token that silently reads nothing.
        """
        scope = scope or Scope()
        self._check(tenant, role, unit_id, scope)
        if defined_unit_only and unit_id and not self.unit_defined(tenant, unit_id):
            raise ValueError(f"no unit {unit_id!r} is defined in tenant {tenant!r} "
                             "(ledger.org.unit.defined): check the unit id")
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
                    sources=scope.sources,
                    type_prefixes=scope.type_prefixes,
                )
            ]
        )
        return format_token(token_id, secret)

    @staticmethod
    def _check(tenant: str, role: Role, unit_id: str | None, scope: Scope) -> None:
        if not TENANT_PATTERN.match(tenant):
            raise ValueError(f"a tenant is [a-z0-9-]{{1,63}}, as in the events: {tenant!r}")
        if role is Role.MANAGER and not unit_id:
            raise ValueError("a manager token needs --unit: managers read their unit's subtree")
        if role is not Role.MANAGER and unit_id:
            raise ValueError("only manager tokens are scoped to a unit")
        if scope and role is not Role.PUBLISHER:
            raise ValueError("only publisher tokens are scoped to sources and event types")
        scope.check()

    def unit_defined(self, tenant: str, unit_id: str) -> bool:
        """Whether the tenant's ledger holds a definition of the unit (its stream)."""
        return any(entry.envelope.get("type") == "ledger.org.unit.defined"
                   for entry in self.store.find_entries(tenant, stream=f"unit:{unit_id}"))

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
        with self._cache_lock:
            self._cache.pop(token_id, None)
        _mark_revoked(token_id)
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

        Token records are cached for `cache_seconds` (see the module's docstring: at once
        for revocations in this process, within that time for others); the secret is
        checked on every call.
        """
        parsed = parse_token(presented)
        if parsed is None:
            return None
        token_id, secret = parsed
        info = self._record(token_id)
        if info is None or info.revoked is not None or not secret_matches(secret, info.issued):
            return None
        issued = info.issued
        return Principal(issued.token_id, issued.tenant, Role(issued.role), issued.unit_id,
                         frozenset(issued.sources), tuple(issued.type_prefixes))

    def _record(self, token_id: str) -> TokenInfo | None:
        with self._cache_lock:
            cached = self._cache.get(token_id)
            if cached is not None:
                self._cache.move_to_end(token_id)
        now = self.monotonic()
        if (
            cached is None
            or now - cached.read_at > self.cache_seconds
            or _revoked_since(token_id, cached.sequence)
        ):
            sequence = _current_sequence()  # taken before the read: a later revocation wins
            cached = _Cached(now, sequence, self.get(token_id))
            with self._cache_lock:
                self._cache[token_id] = cached
                self._cache.move_to_end(token_id)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return cached.info

    def cached(self) -> int:
        """How many token records the cache holds (at most `cache_size`)."""
        with self._cache_lock:
            return len(self._cache)


class AuditTrail:
    """Appends who read which evidence, per tenant, in order (one stream per tenant)."""

    def __init__(self, store: EventStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def record(self, principal: Principal, route: str, subject: str, query: str) -> EvidenceRead:
        """Append one read (see EvidenceRead for the fields); raises rather than let a read
        go unrecorded."""
        stream = audit_stream_id(principal.tenant)
        for _ in range(20):
            read = EvidenceRead(
                originator_id=stream,
                originator_version=self.store.stream_version(stream) + 1,
                timestamp=self.clock(),
                tenant=principal.tenant,
                token_id=principal.token_id,
                role=principal.role.value,
                route=route,
                subject=subject,
                query=query,
            )
            try:
                self.store.append([read])
            except AppendConflict:
                continue  # another reader took that version: append after it
            return read
        raise RuntimeError("could not record the evidence read: the audit trail is contended")

    def reads(self, tenant: str) -> list[EvidenceRead]:
        """The tenant's evidence reads, oldest first (`originator_version` is their number)."""
        return [cast(EvidenceRead, e) for e in self.store.stream_events(audit_stream_id(tenant))]
