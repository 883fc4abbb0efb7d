"""`ledger projections ...`: rebuild, catch up, status. Thin: it wires and reports."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.root import load_settings
from projections.runner import DEFAULT_BATCH, NAMES, Projections, UnknownProjection

projections_app = typer.Typer(help="Read models rebuilt from the ledger.", no_args_is_help=True)
console = Console()

Name = Annotated[str | None, typer.Argument(help=f"One of {', '.join(NAMES)}; all if omitted.")]
Batch = Annotated[int, typer.Option(min=1, max=50_000, help="Entries per transaction.")]


def _open(batch_size: int) -> Projections:
    return Projections.from_settings(load_settings(), batch_size=batch_size)


def _run(name: str | None, batch_size: int, rebuild: bool) -> None:
    projections = _open(batch_size)
    names = [name] if name else None
    verb = "rebuild" if rebuild else "catch up"
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"{verb} {name or 'all projections'}", total=None)

            def advance(done: int, head: int) -> None:
                progress.update(task, completed=done, total=head)

            if rebuild:
                processed = projections.rebuild(names, progress=advance)
            else:
                processed = projections.catch_up(names, progress=advance)
    except UnknownProjection as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    finally:
        projections.close()
    table = Table(title=f"{verb}: entries processed")
    table.add_column("projection")
    table.add_column("entries", justify="right")
    for projection, count in processed.items():
        table.add_row(projection, str(count))
    console.print(table)


@projections_app.command()
def rebuild(name: Name = None, batch_size: Batch = DEFAULT_BATCH) -> None:
    """Drop a view (or all) with its tracking record, and replay it from the whole ledger."""
    _run(name, batch_size, rebuild=True)


@projections_app.command("catch-up")
def catch_up(name: Name = None, batch_size: Batch = DEFAULT_BATCH) -> None:
    """Bring the views up to the ledger's head from where each one stopped."""
    _run(name, batch_size, rebuild=False)


@projections_app.command()
def follow() -> None:
    """Keep every view current as the ledger grows, until interrupted: the read models'
    own process where the workers do not keep them (LEDGER_WORK_PROJECT=false)."""
    from cli.project import follow_projections

    follow_projections()


@projections_app.command()
def status() -> None:
    """Each projection's position, the ledger head and the lag (in notification ids)."""
    projections = _open(DEFAULT_BATCH)
    try:
        rows = projections.status()
    finally:
        projections.close()
    table = Table(title="projections")
    for column in ("projection", "position", "ledger head", "lag"):
        table.add_column(column, justify="left" if column == "projection" else "right")
    for row in rows:
        lag = f"[green]{row.lag}[/green]" if row.lag == 0 else f"[yellow]{row.lag}[/yellow]"
        table.add_row(row.name, str(row.position), str(row.head), lag)
    console.print(table)
