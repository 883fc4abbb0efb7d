"""The Kafka commands: `ledger consume`, `ledger publish`, `ledger dlq list|replay|resolve|relay`.

Registered on the `ledger` app at the end of cli/main.py. Thin: each command builds
what it needs from Settings and reports; the work is in the modules beside this one.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cli.root import build_ledger, configure_logging, load_settings
from cli.runtime import tune_gc_for_ingest
from consumers.observability import IngestMetrics

console = Console(stderr=True)
out = Console()


def _stop_on_signals() -> threading.Event:
    """SIGTERM / SIGINT ask the loop to finish its batch and leave the group cleanly."""
    stop = threading.Event()

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def stats_table(snapshot: dict[str, Any]) -> Table:
    table = Table(title="ledger consume")
    columns = ("partition", "consumed", "recorded", "duplicate", "dead_lettered", "position",
               "lag")
    for name in columns:
        table.add_column(name, justify="right")
    for name, stats in snapshot["partitions"].items():
        table.add_row(name, *(str(stats[c]) if stats[c] is not None else "-"
                              for c in columns[1:]))
    totals = snapshot["totals"]
    table.add_row("total", *(str(totals.get(c, "")) for c in columns[1:5]), "", str(totals["lag"]))
    return table


def consume(
    topic: Annotated[str | None, typer.Option(help="Events topic [LEDGER_EVENTS_TOPIC].")] = None,
    group: Annotated[str | None, typer.Option(help="Consumer group [LEDGER_KAFKA_GROUP].")] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Most messages per transaction [LEDGER_CONSUME_BATCH_SIZE].")
    ] = None,
    linger_ms: Annotated[
        int | None, typer.Option(help="Wait to fill a batch [LEDGER_CONSUME_LINGER_MS].")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Port of /metrics [LEDGER_METRICS_PORT]; -1: none.")
    ] = None,
    stats: Annotated[
        bool, typer.Option("--stats", help="Print a stats table periodically.")
    ] = False,
    stats_interval: Annotated[float, typer.Option(help="Seconds between stats tables.")] = 5.0,
    until_idle: Annotated[
        float | None, typer.Option(help="Exit once caught up and idle this many seconds.")
    ] = None,
    relay: Annotated[
        bool, typer.Option("--relay/--no-relay", help="Publish dead letters to the DLQ topic.")
    ] = True,
    obligations: Annotated[
        bool, typer.Option("--obligations/--no-obligations",
                           help="Publish reminders to the obligations topic "
                                "[LEDGER_OBLIGATIONS_TOPIC] (or run `ledger relay obligations` "
                                "apart).")
    ] = True,
    log_level: Annotated[
        str | None, typer.Option(help="Least severe logs written [LEDGER_LOG_LEVEL].")
    ] = None,
) -> None:
    """Consume the events topic into the ledger, exactly once, as a consumer-group member."""
    from consumers.service import config_from, run_consume

    settings = load_settings()
    configure_logging(settings, log_level)
    ledger = build_ledger(settings)
    tune_gc_for_ingest()
    config = config_from(
        settings, topic=topic, group=group, batch_size=batch_size, linger_ms=linger_ms,
        until_idle_s=until_idle, relay=relay, metrics_port=metrics_port,
        obligations=obligations,
    )
    if metrics_port == -1:
        config = dataclasses.replace(config, metrics_port=None)
    stop = _stop_on_signals()
    metrics = IngestMetrics()
    printer: threading.Thread | None = None
    if stats:
        printer = threading.Thread(
            target=_print_stats, args=(metrics, stop, stats_interval), daemon=True
        )
        printer.start()
    try:
        run_consume(ledger, settings, config, stop, metrics)
    finally:
        ledger.store.close()
    if stats:
        console.print(stats_table(metrics.snapshot()))
    print(orjson.dumps(metrics.snapshot()["totals"]).decode(), file=sys.stdout, flush=True)


def _print_stats(metrics: IngestMetrics, stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        console.print(stats_table(metrics.snapshot()))


def publish(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    topic: Annotated[str | None, typer.Option(help="Topic [LEDGER_EVENTS_TOPIC].")] = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="Also publish lines that are not JSON (poison tests).")
    ] = False,
) -> None:
    """Publish a JSON Lines file to the events topic (acks=all, key = subject)."""
    from consumers.publisher import publish_file
    from consumers.service import ensure_ingest_topics

    settings = load_settings()
    topic = topic or settings.events_topic
    ensure_ingest_topics(settings, topic)
    total = sum(1 for _ in _nonblank(file))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    started = time.monotonic()
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"publish {file.name} -> {topic}", total=total)
        report = publish_file(file, settings.kafka_bootstrap, topic, raw=raw,
                              progress=lambda n: progress.advance(task, n))
    elapsed = time.monotonic() - started
    table = Table(title=f"{file} -> {topic}")
    for name in ("lines", "published", "not JSON (skipped)", "failed", "partitions", "msg/s"):
        table.add_column(name, justify="right")
    table.add_row(str(report.lines), str(report.published), str(report.not_json_skipped),
                  str(report.failed), str(len(report.partitions)),
                  f"{report.published / elapsed:,.0f}" if elapsed > 0 else "-")
    out.print(table)
    for error in report.errors:
        console.print(f"[red]{error}[/red]")
    if report.not_json_skipped:
        console.print(f"[yellow]{report.not_json_skipped} lines are not JSON and were not "
                      "published (use --raw to publish them anyway)[/yellow]")
    if report.failed or report.not_json_skipped:
        raise typer.Exit(code=1)


def _nonblank(path: Path) -> Any:
    with path.open("rb") as fh:
        yield from (line for line in fh if line.strip())


dlq_app = typer.Typer(help="Dead letters: list, replay after a fix, relay to the DLQ topic.",
                      no_args_is_help=True)


@dlq_app.command("list")
def dlq_list(
    status: Annotated[str, typer.Option(help="open | resolved | all")] = "all",
    rule: Annotated[
        str | None, typer.Option(help="Only dead letters with this reason rule.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="One line per letter, however wide the terminal.")
    ] = False,
) -> None:
    """List dead letters (from the store, the source of truth) with reasons and status."""
    from consumers.dlq import as_row, list_dead_letters

    if status not in ("open", "resolved", "all"):
        raise typer.BadParameter("status must be open, resolved or all")
    ledger = build_ledger(load_settings())
    try:
        views = list_dead_letters(ledger, status, rule, limit)
    finally:
        ledger.store.close()
    if as_json:
        for view in views:
            sys.stdout.write(orjson.dumps(as_row(view)).decode() + "\n")
        return
    table = dead_letter_table(views, wide)
    if wide:
        Console(width=max(out.width, 400)).print(table, crop=False)
    else:
        out.print(table)


def dead_letter_table(views: list[Any], wide: bool = False) -> Table:
    """Dead letters as a table; narrow terminals wrap cells (nothing is cut off), and
    control characters from keys and ids are shown escaped, never sent to the terminal."""
    table = Table(title=f"dead letters ({len(views)})")
    overflow = "ignore" if wide else "fold"
    for name in ("#", "source", "key", "event id", "reasons", "status", "recorded at"):
        table.add_column(name, overflow=overflow, no_wrap=wide)  # type: ignore[arg-type]
    for view in views:
        letter = view.letter
        table.add_row(*(Text(printable(cell)) for cell in (
            str(view.notification_id), letter.source,
            (letter.key or b"").decode("utf-8", errors="backslashreplace"),
            letter.event_id or "-",
            "; ".join(f"{r['rule']} {r['field']}".strip() for r in letter.reasons),
            view.status, letter.timestamp.isoformat(timespec="seconds"),
        )))
    return table


def printable(text: str) -> str:
    """`text` with every non-printable character (NUL, ESC, ...) written as an escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


@dlq_app.command("replay")
def dlq_replay(
    rule: Annotated[
        str | None, typer.Option(help="Only dead letters with this reason rule.")
    ] = None,
    include_resolved: Annotated[
        bool, typer.Option("--include-resolved", help="Also replay resolved ones.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-submit open dead letters through the ledger (after a fix); idempotent."""
    from consumers.dlq import replay_dead_letters

    ledger = build_ledger(load_settings())
    try:
        report = replay_dead_letters(ledger, rule=rule, include_resolved=include_resolved)
    finally:
        ledger.store.close()
    if as_json:
        sys.stdout.write(orjson.dumps(report.as_dict()).decode() + "\n")
        return
    table = Table(title="dlq replay")
    for name in ("replayed", "recorded", "duplicate", "still rejected"):
        table.add_column(name, justify="right")
    table.add_row(str(report.replayed), str(report.recorded), str(report.duplicate),
                  str(report.still_rejected))
    out.print(table)
    for rule_name, count in sorted(report.reasons.items()):
        out.print(f"  still rejected: {count} x {rule_name}")


@dlq_app.command("resolve")
def dlq_resolve(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Close open dead letters whose event the ledger has recorded since (e.g. resent
    properly by the producer): status `superseded`."""
    from consumers.dlq import resolve_superseded

    ledger = build_ledger(load_settings())
    try:
        report = resolve_superseded(ledger)
    finally:
        ledger.store.close()
    if as_json:
        sys.stdout.write(orjson.dumps(dataclasses.asdict(report)).decode() + "\n")
        return
    table = Table(title="dlq resolve")
    for name in ("open checked", "superseded (closed)", "naming no event"):
        table.add_column(name, justify="right")
    table.add_row(str(report.checked), str(report.superseded), str(report.unidentified))
    out.print(table)


@dlq_app.command("relay")
def dlq_relay(
    until_idle: Annotated[
        float | None, typer.Option(help="Exit once nothing was left to publish this long.")
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="Least severe logs written [LEDGER_LOG_LEVEL].")
    ] = None,
) -> None:
    """Run the dead-letter outbox relay alone (ledger consume runs it too by default)."""
    from consumers.relay import DeadLetterRelay
    from consumers.service import ensure_ingest_topics

    settings = load_settings()
    configure_logging(settings, log_level)
    ensure_ingest_topics(settings)
    ledger = build_ledger(settings)
    stop = _stop_on_signals()
    relay = DeadLetterRelay(ledger.store, settings)
    try:
        relay.run(stop, until_idle_s=until_idle)
    finally:
        ledger.store.close()
