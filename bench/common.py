"""Shared helpers of the benchmarks: results files, timing, the database to use."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

RESULTS = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


def bench_database_url() -> str | None:
    return os.environ.get("LEDGER_BENCH_DATABASE_URL") or None


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def write_results(name: str, results: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {"benchmark": name, "machine": {"cpus": os.cpu_count(),
                "python": platform.python_version()}, **results}
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"results: {path}")
    return path
