"""Real `ledger` processes for the benchmarks: start, stop, CPU seconds, resident memory.

The benchmarks measure the commands a user runs (`ledger serve`, `ledger consume`,
`ledger work`), each in its own process, as deploy/k8s runs them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

LEDGER = str(Path(sys.executable).parent / "ledger")  # the venv's entry point


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def has_command(*words: str) -> bool:
    """Whether this checkout's `ledger` has the command (`--help` answers)."""
    result = subprocess.run([LEDGER, *words, "--help"], capture_output=True, check=False)
    return result.returncode == 0


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`ledger ARGS` with ENV over this process's environment; output kept off the terminal
    (stderr goes to a file so a full pipe never blocks the process)."""
    log = Path(tempfile.gettempdir()) / f"bench-ledger-{args[0]}-{time.time_ns()}.log"
    with log.open("wb") as sink:
        return subprocess.Popen([LEDGER, *args], env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=sink)


def stop(processes: Iterable[subprocess.Popen[bytes]], grace_s: float = 60.0) -> None:
    """SIGTERM (each finishes its batch and leaves its group), then SIGKILL after grace."""
    alive = [p for p in processes if p.poll() is None]
    for process in alive:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in alive:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout_s} s")


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds so far of the processes (those gone count 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def rss_mib(pid: int) -> float | None:
    """Resident set size now (VmRSS) and at its peak (VmHWM), the larger: MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = [int(line.split()[1]) for line in status.splitlines()
              if line.startswith(("VmHWM:", "VmRSS:"))]
    return round(max(values) / 1024, 1) if values else None


def wait_assigned(bootstrap: str, group: str, topic: str, timeout_s: float = 120.0) -> float:
    """Until every partition of `topic` is owned by a member of `group` (joined, synced):
    a measurement starts with the processes working, not joining. Returns seconds waited."""
    from consumers.group_health import GroupProbe

    probe = GroupProbe(bootstrap, group, topic, own_client_id="bench-probe")
    started = time.monotonic()
    settled = 0  # consecutive views with everything owned: a rebalance can follow a join
    try:
        while time.monotonic() - started < timeout_s:
            view = probe.view()
            whole = (view is not None and view.state == "Stable" and bool(view.partitions)
                     and not view.unowned)
            settled = settled + 1 if whole else 0
            if settled >= 4:
                return time.monotonic() - started
            time.sleep(0.5)
    finally:
        probe.close()
    raise RuntimeError(f"group {group} did not take up {topic} in {timeout_s} s")


def wait_topic(bootstrap: str, topic: str, partitions: int, timeout_s: float = 60.0) -> None:
    """Until a fresh client's metadata shows every partition of a just created topic (a
    consumer that joins before that gets nothing assigned until it rejoins)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if len(consumer.partitions_for_topic(topic) or ()) >= partitions:
                return
            time.sleep(0.2)
            consumer.topics()  # refreshes the metadata
    finally:
        consumer.close()
    raise RuntimeError(f"topic {topic} has no metadata for {partitions} partitions")
