"""`ledger ingest FILE.jsonl`: progress, counts, rejects beside the input, exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests.support.envelopes import envelope

REPO = Path(__file__).resolve().parents[2]


def run_ingest(path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_HOME": str(home)}
    env.pop("LEDGER_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "cli", "ingest", str(path)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_ingest_counts_and_exits_zero_when_all_recorded(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_lines(events, [orjson.dumps(envelope(f"e{i}")) for i in range(20)])
    first = run_ingest(events, tmp_path / "var")
    assert first.returncode == 0, first.stderr
    assert "20" in first.stdout
    second = run_ingest(events, tmp_path / "var")
    assert second.returncode == 0
    assert not (tmp_path / "events.jsonl.rejected.jsonl").exists()


def test_ingest_writes_rejects_with_reasons_and_exits_non_zero(tmp_path: Path) -> None:
    bad = envelope("bad")
    bad["tenant"] = "ACME!"
    events = tmp_path / "events.jsonl"
    write_lines(events, [orjson.dumps(envelope("ok")), b"{broken", orjson.dumps(bad)])
    result = run_ingest(events, tmp_path / "var")
    assert result.returncode == 1
    rejects = [orjson.loads(line) for line in
               (tmp_path / "events.jsonl.rejected.jsonl").read_bytes().splitlines()]
    assert [r["line"] for r in rejects] == [2, 3]
    assert rejects[0]["reasons"][0]["rule"] == "invalid_json"
    assert rejects[0]["original"] == "{broken"
    assert rejects[1]["reasons"][0]["field"] == "tenant"


def test_worked_examples_ingest_cleanly(tmp_path: Path) -> None:
    result = run_ingest(REPO / "examples" / "worked-examples.jsonl", tmp_path / "var")
    assert result.returncode == 0, result.stdout + result.stderr
