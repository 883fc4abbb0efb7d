"""`ledger token create|list|revoke`: API tokens for the HTTP API."""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.root import load_settings
from ledger.adapters.clock import system_clock
from ledger.adapters.store import EventStore
from ledger.application.tokens import Scope, TokenService
from ledger.domain.access import Role

token_app = typer.Typer(help="API tokens: created once, stored hashed, revocable.")
console = Console()


def _service() -> TokenService:
    return TokenService(EventStore(load_settings()), system_clock)


@token_app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="The tenant the token may see.")],
    role: Annotated[Role, typer.Option(help="publisher, auditor, hr, manager or admin.")],
    unit: Annotated[
        str | None, typer.Option(help="Managers: the unit whose subtree they read; it must "
                                 "be defined in the tenant's ledger already.")
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option(help="Publishers: a source the token may publish for "
                                       "(repeat for several); default: any.")
    ] = None,
    types: Annotated[
        list[str] | None, typer.Option(help="Publishers: an event-type prefix the token may "
                                       "publish, e.g. ledger.operation. (repeatable); "
                                       "default: any.")
    ] = None,
) -> None:
    """Print a new token once; only its hash is stored.

    Give each upstream system its own publisher token, scoped to its sources: an event
    of another source is refused (rule source_forbidden), so no other publisher of the
    tenant can take the system's idempotency keys (tenant, source, id) before it does,
    which would make the system's own events idempotency conflicts. For example:
    ledger token create --tenant acme --role publisher --source erp/orders
    --types ledger.operation. --types ledger.case.
    """
    scope = Scope(tuple(source or ()), tuple(types or ()))
    try:
        token = _service().create(tenant, role, unit, f"cli:{getpass.getuser()}",
                                  scope=scope, defined_unit_only=True)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print("token (shown once, keep it secret):", style="bold")
    print(token)


@token_app.command("list")
def list_tokens(tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Tokens with who issued and revoked them; never their secrets."""
    table = Table("id", "tenant", "role", "unit", "scope", "issued", "by", "revoked")
    for info in _service().list(tenant):
        i = info.issued
        revoked = (
            f"{info.revoked.timestamp:%Y-%m-%d %H:%M} by {info.revoked.revoked_by}"
            if info.revoked
            else ""
        )
        table.add_row(
            i.token_id,
            i.tenant,
            i.role,
            i.unit_id or "",
            _scope(i.sources, i.type_prefixes),
            f"{i.timestamp:%Y-%m-%d %H:%M}",
            i.issued_by,
            revoked,
        )
    console.print(table)


def _scope(sources: Sequence[str], prefixes: Sequence[str]) -> str:
    parts = [*(f"source {s}" for s in sources), *(f"types {p}*" for p in prefixes)]
    return ", ".join(parts)


@token_app.command("revoke")
def revoke(token_id: Annotated[str, typer.Argument(help="The token's id (from list).")]) -> None:
    if not _service().revoke(token_id, f"cli:{getpass.getuser()}"):
        console.print(f"[red]no active token {token_id}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {token_id}")
