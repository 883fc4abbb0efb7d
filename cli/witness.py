"""`ledger witness`: an independent process that cosigns each tenant's checkpoints.

Run it apart from the ledger (its own machine, key and state folder). It fetches the
latest checkpoint of a tenant's log, checks it against the last one it cosigned with a
consistency proof from the ledger, keeps it, cosigns it and posts the cosignature back.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from ledger.adapters.clock import system_clock
from ledger.adapters.notes import cosigner_vkey
from ledger.adapters.witness_state import WitnessStateDir
from ledger.application.witness import Witness, WitnessRefused
from ledger.domain.signed_note import NoteFormatError, check_key_name, parse_vkey

witness_app = typer.Typer(help="Witness a ledger: cosign checkpoints that extend what it saw.",
                          no_args_is_help=True)
console = Console(stderr=True)

KeyOpt = Annotated[Path, typer.Option(exists=True, dir_okay=False,
                                      help="The witness's Ed25519 private key (PEM).")]
NameOpt = Annotated[str, typer.Option(help="The witness's key name, e.g. witness.example/w1.")]


def _private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise typer.BadParameter(f"{path} is not an Ed25519 private key")
    return key


@witness_app.command("vkey")
def show_vkey(key: KeyOpt, name: NameOpt) -> None:
    """Print the witness's verifier key: give it to the ledger (LEDGER_WITNESS_KEYS)."""
    check_key_name(name)
    print(cosigner_vkey(name, _private_key(key).public_key()))


class _LedgerClient:
    def __init__(self, url: str, token: str) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=30.0,
                                  headers={"Authorization": f"Bearer {token}"})

    def latest(self) -> str:
        answer = self._http.get("/v1/checkpoints/latest")
        answer.raise_for_status()
        return answer.text

    def consistency(self, first: int, second: int) -> list[bytes]:
        answer = self._http.get("/v1/checkpoints/consistency",
                                params={"from": first, "to": second})
        answer.raise_for_status()
        return [bytes.fromhex(h) for h in answer.json()["consistency_proof"]]

    def post(self, note: str) -> None:
        answer = self._http.post("/v1/checkpoints/cosignatures", content=note.encode(),
                                 headers={"Content-Type": "text/plain; charset=utf-8"})
        answer.raise_for_status()


@witness_app.command("run")
def run(
    url: Annotated[str, typer.Option(help="The ledger's API, e.g. http://127.0.0.1:8000.")],
    token: Annotated[str, typer.Option(envvar="LEDGER_WITNESS_TOKEN",
                                       help="A token of the tenant (auditor role).")],
    log_key: Annotated[list[str], typer.Option(
        help="The log's verifier key (from GET /v1/keys, note_verifier_key); repeat "
        "for rotated keys.")],
    key: KeyOpt,
    name: NameOpt,
    state: Annotated[Path, typer.Option(help="Folder of the checkpoints it cosigned.")],
    every: Annotated[float, typer.Option(help="Seconds between rounds; 0: one round.")] = 0,
) -> None:
    """Cosign the tenant's latest checkpoint if it extends the last one cosigned."""
    try:
        log_keys = [parse_vkey(k) for k in log_key]
    except NoteFormatError as exc:
        raise typer.BadParameter(str(exc)) from exc
    witness = Witness(name, _private_key(key), log_keys, WitnessStateDir(state), system_clock)
    client = _LedgerClient(url, token)
    while True:
        try:
            cosigned = witness.witness(client.latest(), client.consistency)
            client.post(cosigned.note)
            console.print(f"cosigned {cosigned.head.origin} at size {cosigned.head.tree_size}")
        except WitnessRefused as exc:
            console.print(f"[red]refused:[/red] {exc}")
            raise typer.Exit(code=1) from exc
        except httpx.HTTPError as exc:
            console.print(f"[yellow]ledger unreachable or refused:[/yellow] {exc}")
            if not every:
                raise typer.Exit(code=2) from exc
        if not every:
            return
        time.sleep(every)
