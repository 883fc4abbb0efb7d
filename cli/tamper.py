"""Commands of tamper evidence: verify, verify-evidence, checkpoint, keys, proofs.

Registered in cli/main.py. Thin, like the rest of the CLI: they wire the store, call the
verification, sealing or evidence use cases (ledger/application/), and report.
Exit codes: 0 verified, 1 tampering (or a failed check) found, 2 a usage problem.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cli.root import configure_logging, load_settings
from ledger.adapters.clock import system_clock
from ledger.adapters.signing import (
    BadKeyError,
    KeyRing,
    MissingSigningKeyError,
    generate_keypair,
    load_signer,
    parse_public_key_option,
    signer_configured,
)
from ledger.adapters.store import EventStore
from ledger.adapters.witness_state import WitnessStateDir
from ledger.application.document_check import verify_document
from ledger.application.evidence import NotSealedError, Prover, resolve_event
from ledger.application.handed_out import HandedOutCheck, check_handed_out, check_receipts
from ledger.application.sealing import Sealer, tenants
from ledger.application.verification import verify_store
from ledger.application.verification_report import StoreReport, TenantReport
from ledger.config import Settings

console = Console()

PublicKeyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--public-key",
        help="Trusted public key: FILE (its id is its fingerprint) or ID=FILE; repeat for "
        "rotated keys. Default: the public half of the configured signing key.",
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code=code)


def _keys(options: list[str] | None, settings: Settings | None) -> KeyRing:
    ring: dict[str, Ed25519PublicKey] = {}
    try:
        for option in options or []:
            key_id, public_key = parse_public_key_option(option)
            ring[key_id] = public_key
        if not ring and settings is not None and signer_configured(settings):
            signer = load_signer(settings)
            ring[signer.key_id] = signer.public_key
    except (BadKeyError, OSError) as exc:
        raise _fail(f"cannot read a public key: {exc}") from exc
    return ring


# --- ledger verify -------------------------------------------------------------------


def verify(
    tenant: Annotated[str | None, typer.Option(help="Verify this tenant only.")] = None,
    public_key: PublicKeyOption = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write every problem found to FILE.")
    ] = None,
    checkpoint_file: Annotated[list[Path] | None, typer.Option(
        "--checkpoint", exists=True, dir_okay=False,
        help="A checkpoint handed out earlier (a signed note from GET "
        "/v1/checkpoints/latest): the ledger must still extend it. Repeatable.")] = None,
    witness_state: Annotated[Path | None, typer.Option(
        exists=True, file_okay=False,
        help="A witness's state folder: the ledger must extend every checkpoint in it.")] = None,
) -> None:
    """Check the whole store: positions, digests, hash chain, checkpoint roots, signatures,
    receipts, and that it still extends every checkpoint handed out earlier.

    Reports the first bad position of each tenant and exits 1 if anything was tampered with.
    """
    settings = load_settings()
    keys = _keys(public_key, settings)
    store = EventStore(settings)
    if not keys and _has_checkpoints(store, tenant):
        store.close()
        raise _fail("no trusted public key: give --public-key FILE (the ledger's .pub) or "
                    "configure its signing key; without one a signed checkpoint cannot be "
                    "told from a forged one, so nothing was checked")
    handed_out = _handed_out(checkpoint_file or [], witness_state)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    started = time.perf_counter()
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task: dict[str, TaskID] = {}

            def on_tenant(name: str, total: int) -> None:
                task["current"] = progress.add_task(f"verify {name}", total=total)

            def advance(n: int) -> None:
                progress.advance(task["current"], n)

            report = verify_store(store, keys, tenant, progress=advance, on_tenant=on_tenant)
        outsiders = check_handed_out(store, handed_out, keys)
        receipts = check_receipts(store, tenant)
    finally:
        store.close()
    elapsed = time.perf_counter() - started
    _print_report(report, elapsed, bool(keys))
    intact = _print_outside_checks(outsiders, receipts)
    if json_out is not None:
        problems = [p.as_dict() for t in report.tenants for p in t.problems]
        json_out.write_bytes(orjson.dumps({"ok": report.ok, "problems": problems},
                                          option=orjson.OPT_INDENT_2))
    if not report.tenants:
        console.print("the store holds no ledger")
    if not report.ok or not intact:
        raise typer.Exit(code=1)


def _has_checkpoints(store: EventStore, tenant: str | None) -> bool:
    names = [tenant] if tenant else tenants(store)
    return any(store.latest_checkpoint(name) is not None for name in names)


def _handed_out(files: list[Path], witness_state: Path | None) -> list[tuple[str, str]]:
    notes = [(str(f), f.read_text(encoding="utf-8")) for f in files]
    if witness_state is not None:
        kept = WitnessStateDir(witness_state).notes()
        notes += [(f"{witness_state} #{i + 1}", note) for i, note in enumerate(kept)]
    return notes


def _print_outside_checks(outsiders: list[HandedOutCheck], receipts: list[str]) -> bool:
    for check in outsiders:
        if check.ok:
            console.print(f"[green]extends[/green] {check.origin} at size {check.tree_size} "
                          f"({check.source})")
        else:
            console.print(f"[red]does not extend[/red] {check.origin} at size "
                          f"{check.tree_size} ({check.source}): {check.problem}")
    for problem in receipts[:20]:
        console.print(f"[red]receipt[/red] {problem}")
    if len(receipts) > 20:
        console.print(f"  ... and {len(receipts) - 20} more receipt problems")
    return all(c.ok for c in outsiders) and not receipts


def _print_report(report: StoreReport, elapsed: float, have_keys: bool) -> None:
    table = Table(title=f"verified {report.entries} entries in {elapsed:.1f}s "
                        f"({report.entries / elapsed if elapsed else 0:,.0f} entries/s)")
    for name in ("tenant", "entries", "checkpoints", "signed up to", "unsigned", "result"):
        table.add_column(name, justify="left" if name in ("tenant", "result") else "right")
    for t in report.tenants:
        table.add_row(t.tenant, str(t.entries), str(t.checkpoints), str(t.sealed),
                      str(max(0, t.entries - t.sealed)), _verdict(t))
    console.print(table)
    for t in report.tenants:
        first = t.first_problem
        if first is None:
            continue
        console.print(f"[red]{t.tenant}: first bad {first.where}[/red] [{first.kind}] "
                      f"{first.message}")
        for other in t.problems[:20]:
            if other is not first:
                console.print(f"  [{other.kind}] {other.message}")
        hidden = len(t.problems) - 21 + t.more_problems
        if hidden > 0:
            console.print(f"  ... and {hidden} more")
    if not have_keys and any(t.checkpoints for t in report.tenants):
        console.print("[yellow]no trusted public key given: checkpoint signatures could not "
                      "be verified (use --public-key)[/yellow]")


def _verdict(t: TenantReport) -> str:
    if not t.ok:
        first = t.first_problem
        at = f" at {first.position}" if first is not None and first.position else ""
        return f"[red]TAMPERED{at}[/red]"
    return "[green]ok[/green]" if t.checkpoints else "[yellow]ok, unsigned[/yellow]"


# --- ledger verify-evidence ----------------------------------------------------------


def verify_evidence(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    public_key: PublicKeyOption = None,
) -> None:
    """Check a proof bundle offline, with nothing but the ledger's public key(s).

    FILE is a bundle from `ledger proofs export`, `GET /v1/proofs/{id}` or an evidence
    export (any JSON document whose "proofs" member is a bundle is accepted too).
    """
    keys = _keys(public_key, None)
    if not keys:
        raise _fail("give the ledger's public key: --public-key FILE")
    try:
        document = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise _fail(f"{file} is not JSON: {exc}", code=1) from exc
    if not isinstance(document, dict):
        raise _fail(f"{file} is not a proof bundle", code=1)
    checked = verify_document(document, keys)
    report = checked.bundle
    checkpoint = report.checkpoint
    console.print(
        f"checkpoint #{checkpoint.get('sequence')} of tenant {report.tenant!r}: "
        f"{checkpoint.get('tree_size')} entries, root {str(checkpoint.get('root_hash'))[:16]}…, "
        f"key {checkpoint.get('key_id')}, signed {checkpoint.get('timestamp')}: "
        + ("[green]signature valid[/green]" if report.checkpoint_problem is None
           else f"[red]{report.checkpoint_problem}[/red]")
    )
    table = Table(title=f"{len(report.entries)} entries")
    for name in ("position", "event id", "result"):
        table.add_column(name)
    for check in report.entries:
        table.add_row(str(check.position), str(check.event_id),
                      "[green]proven[/green]" if check.ok else f"[red]{check.problem}[/red]")
    console.print(table)
    for problem in checked.problems:
        console.print(f"[red]{problem}[/red]", soft_wrap=True)
    if not checked.ok:
        console.print("[red]the evidence does not verify[/red]")
        raise typer.Exit(code=1)
    console.print("[green]every entry is proven to be in the signed ledger as shown, and the "
                  "document shows them as proven[/green]")


# --- ledger checkpoint ---------------------------------------------------------------


def checkpoint(
    tenant: Annotated[str | None, typer.Option(help="This tenant only (default: all).")] = None,
    watch: Annotated[
        float | None,
        typer.Option(help="Keep running: every SECONDS, sign for tenants that are due."),
    ] = None,
) -> None:
    """Sign a checkpoint now for every tenant with unsigned entries (or keep doing so)."""
    settings = load_settings()
    if watch is not None:  # a long-running process: its logs go where the others' go
        configure_logging(settings)
    try:
        signer = load_signer(settings)
    except (MissingSigningKeyError, BadKeyError) as exc:
        raise _fail(str(exc)) from exc
    store = EventStore(settings)
    sealer = Sealer(store, signer, system_clock, settings.checkpoint_every,
                    timedelta(seconds=settings.checkpoint_interval_s))
    try:
        while True:
            if tenant is not None:
                written = [c for c in [sealer.seal(tenant, force=watch is None)] if c]
            else:
                written = sealer.sweep(force=watch is None)
            for c in written:
                console.print(f"checkpoint #{c.sequence} of {c.tenant}: {c.tree_size} entries, "
                              f"root {c.root_hash[:16]}…, key {c.key_id}")
            if watch is None:
                if not written:
                    console.print("nothing to sign: every entry is covered by a checkpoint")
                return
            time.sleep(watch)
    finally:
        store.close()


# --- ledger keys ---------------------------------------------------------------------

keys_app = typer.Typer(help="Checkpoint signing keys (Ed25519).", no_args_is_help=True)


@keys_app.command("generate")
def keys_generate(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to write (default: $LEDGER_HOME/keys).")
    ] = None,
    key_id: Annotated[
        str | None, typer.Option(help="Key id (default: the key's fingerprint).")
    ] = None,
) -> None:
    """Write a new keypair: ID.key (private, mode 600) and ID.pub (give this to verifiers)."""
    folder = directory or load_settings().home / "keys"
    try:
        made = generate_keypair(folder, key_id)
    except FileExistsError as exc:
        raise _fail(f"{exc.filename} exists; keys are never overwritten") from exc
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"key id      {made.key_id}")
    console.print(f"private key {made.private_path} (mode 600: keep it secret)")
    console.print(f"public key  {made.public_path} (give it to auditors)")
    console.print(f"sign with:  export LEDGER_SIGNING_KEY_FILE={made.private_path.resolve()}")
    if key_id is not None:
        console.print(f"            export LEDGER_SIGNING_KEY_ID={made.key_id}")
        console.print(f"verifiers:  --public-key {made.key_id}={made.public_path}")


# --- ledger proofs -------------------------------------------------------------------

proofs_app = typer.Typer(help="Inclusion proofs of ledger entries.", no_args_is_help=True)


@proofs_app.command("export")
def proofs_export(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="Where to write the bundle.")],
    tenant: Annotated[str, typer.Option(help="The tenant.")],
    case: Annotated[str | None, typer.Option(help="Every entry of this case.")] = None,
    event: Annotated[
        list[str] | None, typer.Option(help="An event id (or source#id); repeatable.")
    ] = None,
) -> None:
    """Write a self-contained proof bundle, checkable offline by `ledger verify-evidence`."""
    if case is None and not event:
        raise _fail("name the entries: --case CASE and/or --event ID")
    store = EventStore(load_settings())
    try:
        entries = store.find_entries(tenant, stream=f"case:{case}") if case else []
        for ref in event or []:
            found = resolve_event(store, tenant, ref)
            if not found:
                raise _fail(f"no event {ref!r} in tenant {tenant!r}'s ledger", code=1)
            entries += found
        if not entries:
            raise _fail(f"case {case!r} has no entries in tenant {tenant!r}'s ledger", code=1)
        unique = {e.position: e for e in entries}
        try:
            bundle = Prover(store).bundle(tenant, list(unique.values()))
        except NotSealedError as exc:
            raise _fail(f"{exc}; run `ledger checkpoint` (needs the signing key)", 1) from exc
    finally:
        store.close()
    file.write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2))
    cp = bundle["checkpoint"]
    console.print(f"{len(bundle['entries'])} entries of {tenant} proven against checkpoint "
                  f"#{cp['sequence']} ({cp['tree_size']} entries): {file}")
