"""Tokens: shown once, stored hashed, revocable; roles grant capabilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.adapters.store import EventStore
from ledger.application.tokens import AuditTrail, TokenService
from ledger.config import Settings
from ledger.domain.access import Capability, Role, parse_token
from tests.support.clock import FixedClock


@pytest.fixture
def tokens(tmp_path: Path) -> TokenService:
    return TokenService(EventStore(Settings(home=tmp_path)), FixedClock())


def test_a_token_authenticates_as_its_tenant_and_role(tokens: TokenService) -> None:
    token = tokens.create("acme", Role.AUDITOR, None, "admin-cli")
    principal = tokens.authenticate(token)
    assert principal is not None
    assert (principal.tenant, principal.role) == ("acme", Role.AUDITOR)


def test_only_the_hash_of_a_token_is_stored(tokens: TokenService) -> None:
    token = tokens.create("acme", Role.HR, None, "admin-cli")
    parsed = parse_token(token)
    assert parsed is not None
    info = tokens.get(parsed[0])
    assert info is not None and parsed[1] not in repr(info)


def test_a_wrong_secret_or_a_revoked_token_is_refused(tokens: TokenService) -> None:
    token = tokens.create("acme", Role.AUDITOR, None, "admin-cli")
    token_id = token.split("_")[1]
    assert tokens.authenticate(f"lt_{token_id}_wrong") is None
    assert tokens.authenticate("garbage") is None
    assert tokens.revoke(token_id, "admin-cli")
    assert tokens.authenticate(token) is None
    assert not tokens.revoke(token_id, "admin-cli"), "revoking twice changes nothing"


def test_a_manager_token_needs_a_unit(tokens: TokenService) -> None:
    with pytest.raises(ValueError, match="unit"):
        tokens.create("acme", Role.MANAGER, None, "admin-cli")


def test_tokens_are_listed_per_tenant(tokens: TokenService) -> None:
    tokens.create("acme", Role.AUDITOR, None, "a")
    tokens.create("globex", Role.HR, None, "a")
    assert [i.issued.tenant for i in tokens.list("acme")] == ["acme"]
    assert len(tokens.list()) == 2


def test_publishers_only_publish_and_hr_reads_no_chains() -> None:
    from ledger.domain.access import GRANTS

    assert GRANTS[Role.PUBLISHER] == {Capability.PUBLISH}
    assert Capability.READ_CHAINS not in GRANTS[Role.HR]
    assert Capability.READ_EVIDENCE in GRANTS[Role.HR]


def test_evidence_reads_are_recorded_in_order(tmp_path: Path) -> None:
    store = EventStore(Settings(home=tmp_path))
    tokens = TokenService(store, FixedClock())
    principal = tokens.authenticate(tokens.create("acme", Role.HR, None, "a"))
    assert principal is not None
    trail = AuditTrail(store, FixedClock())
    trail.record(principal, "/v1/employees/{id}/evidence", "e-li", "format=pdf")
    trail.record(principal, "/v1/liabilities", "", "employee_id=e-li")
    assert [r.subject for r in trail.reads("acme")] == ["e-li", ""]
    assert trail.reads("globex") == []


def test_a_token_is_only_for_a_well_formed_tenant_and_only_managers_name_a_unit(
    tokens: TokenService,
) -> None:
    with pytest.raises(ValueError, match="tenant"):
        tokens.create("ACME!", Role.AUDITOR, None, "admin-cli")
    with pytest.raises(ValueError, match="only manager"):
        tokens.create("acme", Role.HR, "sales", "admin-cli")


def test_auditors_and_admins_read_the_audit_trail_and_admins_read_no_data() -> None:
    from ledger.domain.access import GRANTS

    readers = {role for role, grants in GRANTS.items() if Capability.READ_AUDIT in grants}
    assert readers == {Role.AUDITOR, Role.ADMIN}
    assert GRANTS[Role.ADMIN] == {Capability.MANAGE_TOKENS, Capability.READ_AUDIT}


def test_a_units_subtree_is_the_unit_and_everything_below_it() -> None:
    from ledger.domain.access import unit_subtree

    parents = {"hq": None, "sales": "hq", "sales-2": "sales", "plant": "hq", "loop-a": "loop-b",
               "loop-b": "loop-a"}
    assert unit_subtree("sales", parents) == {"sales", "sales-2"}
    assert unit_subtree("hq", parents) == {"hq", "sales", "sales-2", "plant"}
    assert unit_subtree("loop-a", parents) == {"loop-a", "loop-b"}  # bad data ends, not loops
    assert unit_subtree("nowhere", parents) == {"nowhere"}
