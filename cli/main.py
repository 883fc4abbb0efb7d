"""The `ledger` command: ingest, serve, demo. Thin: it wires and reports, the ledger decides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.root import (
    build_engine,
    build_ledger,
    build_sealed_ledger,
    build_transparency,
    checkpoint_timer,
    configure_logging,
    load_settings,
)
from cli.runtime import tune_gc_for_ingest
from ledger.application.file_ingest import ingest_file
from ledger.application.follower import FollowerThread

app = typer.Typer(help="Event-sourced accountability ledger.", no_args_is_help=True)
console = Console()


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    batch_size: Annotated[int | None, typer.Option(help="Events per transaction.")] = None,
) -> None:
    """Record every event of a JSON Lines file; rejects go to FILE.rejected.jsonl."""
    settings = load_settings()
    configure_logging(settings)
    ledger = build_ledger(settings)
    tune_gc_for_ingest()
    total = _count_lines(file)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"ingest {file.name}", total=total)
        report = ingest_file(
            ledger, file, batch_size or settings.ingest_batch_size,
            progress=lambda n: progress.advance(task, n),
        )
    ledger.store.close()
    table = Table(title=f"{file} ({report.lines} events)")
    for name in ("recorded", "duplicate", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(*(str(report.counts[k]) for k in ("recorded", "duplicate", "rejected")))
    console.print(table)
    if report.rejected:
        console.print(f"[red]{report.rejected} rejected[/red]: reasons in {report.rejects_path}")
        raise typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs), deriving responsibility as events arrive."""
    import uvicorn

    from api.app import create_app
    from api.limits import ApiLimits
    from api.queries import ReadSide

    settings = load_settings()
    configure_logging(settings)
    ledger, sealer = build_sealed_ledger(settings)
    # With workers deployed (kafka mode) this process only reads and ingests; embedded,
    # it runs the same worker in-process so a single `ledger serve` needs nothing else.
    embedded = _work.work_mode(settings) == "embedded"
    follower = None
    if embedded:
        engine = build_engine(ledger, settings, live=True)
        follower = FollowerThread("responsibility-engine", engine.run_once,
                                  settings.sweep_interval_s).start()
    timer = checkpoint_timer(sealer, settings)
    if timer is not None:
        timer.start()
    try:
        app_ = create_app(ledger, read_side=ReadSide(ledger, settings=settings,
                                                     run_projections=embedded),
                          limits=ApiLimits.from_settings(settings),
                          retry_after_s=settings.retry_after_s,
                          min_position_wait_s=settings.min_position_wait_s,
                          transparency=build_transparency(ledger, settings))
        # log_config=None: uvicorn's loggers keep the process's one handler (JSON lines).
        uvicorn.run(app_, host=host, port=port, log_config=None,
                    log_level=settings.log_level.lower())
    finally:
        if follower is not None:
            follower.stop()
        if timer is not None:
            timer.stop()
        ledger.store.close()


@app.command()
def derive() -> None:
    """Run the responsibility engine until it has caught up with the ledger, then exit."""
    settings = load_settings()
    configure_logging(settings)
    ledger = build_ledger(settings)
    engine = build_engine(ledger, settings)
    with console.status("deriving responsibility from the ledger..."):
        read = engine.run_until_idle()
    status = engine.status()
    console.print(f"read {read} entries; engine at {status.position} of {status.head}")
    ledger.store.close()


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Load the worked examples (E1-E4 and section 8) into the store, show them, sign a
    checkpoint (with a demo key unless one is configured), then serve the API."""
    from cli.demo import run_demo

    run_demo(console, load_settings(), base=f"http://127.0.0.1:{port}")
    if serve_after:
        serve(host="127.0.0.1", port=port)


# The other command groups, each in its own module of this package.
from cli import exports as _exports  # noqa: E402
from cli import kafka as _kafka  # noqa: E402
from cli import projections as _projections  # noqa: E402
from cli import quarantine as _quarantine  # noqa: E402
from cli import relay as _relay  # noqa: E402
from cli import tamper as _tamper  # noqa: E402
from cli import tokens as _tokens  # noqa: E402
from cli import witness as _witness  # noqa: E402
from cli import work as _work  # noqa: E402

app.command("verify")(_tamper.verify)
app.command("verify-evidence")(_tamper.verify_evidence)
app.command("checkpoint")(_tamper.checkpoint)
app.add_typer(_tamper.keys_app, name="keys")
app.add_typer(_tamper.proofs_app, name="proofs")
app.command("consume")(_kafka.consume)
app.command("publish")(_kafka.publish)
app.add_typer(_kafka.dlq_app, name="dlq")
app.add_typer(_tokens.token_app, name="token")
app.add_typer(_projections.projections_app, name="projections")
app.add_typer(_exports.export_app, name="export")
app.add_typer(_witness.witness_app, name="witness")
app.command("work")(_work.work)
app.add_typer(_quarantine.quarantine_app, name="quarantine")
app.add_typer(_relay.relay_app, name="relay")
