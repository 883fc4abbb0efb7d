"""`ledger witness` as operators run it: a separate process beside a real `ledger serve`.

The insider's attack, played with real processes: the server is stopped, its store replaced
by a rewritten history signed with the very same key, and started again. The witness, which
kept what it cosigned, refuses the new checkpoint and exits 1.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.envelopes import envelope

REPO = Path(__file__).resolve().parents[2]
WITNESS = "witness.example/w1"


def _env(home: Path, key: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update({"LEDGER_HOME": str(home), "LEDGER_SIGNING_KEY_FILE": str(key),
                "LEDGER_CHECKPOINT_EVERY": "4", "LEDGER_LOG_FORMAT": "text",
                "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "200", **extra})
    return env


def _ledger(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    if check and done.returncode != 0:
        pytest.fail(f"ledger {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n"
                    f"{done.stderr}", pytrace=False)
    return done


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _serving(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)],
                                   cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield url
    finally:
        process.kill()  # a crash, not a goodbye
        process.wait(timeout=10)


def _token(env: dict[str, str], role: str) -> str:
    out = _ledger(env, "token", "create", "--tenant", "acme", "--role", role).stdout
    return [line.strip() for line in out.splitlines() if line.strip()][-1]


def _publish(url: str, token: str, events: list[dict[str, object]]) -> None:
    answer = httpx.post(f"{url}/v1/events", json=events, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text


def _witness(env: dict[str, str], url: str, token: str, log_key: str, key: Path,
             state: Path) -> subprocess.CompletedProcess[str]:
    return _ledger({**env, "LEDGER_WITNESS_TOKEN": token}, "witness", "run", "--url", url,
                   "--log-key", log_key, "--key", str(key), "--name", WITNESS,
                   "--state", str(state), check=False)


@pytest.mark.fault
def test_a_witness_process_cosigns_then_refuses_a_same_key_rewrite_after_a_restart(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    bare = _env(tmp_path / "unused", tmp_path / "none")
    _ledger(bare, "keys", "generate", "--dir", str(keys), "--key-id", "ledger")
    _ledger(bare, "keys", "generate", "--dir", str(keys), "--key-id", "witness")
    vkey = _ledger(bare, "witness", "vkey", "--key", str(keys / "witness.key"),
                   "--name", WITNESS).stdout.strip()
    state, port, log = tmp_path / "witness-state", _port(), tmp_path / "server.log"

    honest = _env(tmp_path / "honest", keys / "ledger.key", LEDGER_WITNESS_KEYS=vkey)
    publisher, auditor = _token(honest, "publisher"), _token(honest, "auditor")
    with _serving(honest, port, log) as url:
        _publish(url, publisher, [envelope(f"e{i}", return_days=3) for i in range(8)])
        log_key = httpx.get(f"{url}/v1/keys", headers={"Authorization": f"Bearer {auditor}"},
                            timeout=10).json()[0]["note_verifier_key"]
        done = _witness(honest, url, auditor, log_key, keys / "witness.key", state)
        assert done.returncode == 0, done.stdout + done.stderr
        note = httpx.get(f"{url}/v1/checkpoints/latest", timeout=10,
                         headers={"Authorization": f"Bearer {auditor}"}).text
        assert f"\u2014 {WITNESS} " in note

    forged = _env(tmp_path / "forged", keys / "ledger.key", LEDGER_WITNESS_KEYS=vkey)
    publisher, auditor = _token(forged, "publisher"), _token(forged, "auditor")
    with _serving(forged, port, log) as url:
        _publish(url, publisher,
                 [envelope(f"e{i}", return_days=30 if i == 5 else 3) for i in range(8)])
        done = _witness(forged, url, auditor, log_key, keys / "witness.key", state)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rewritten" in done.stdout + done.stderr

    pub = keys / "ledger.pub"
    verdict = _ledger(forged, "verify", "--public-key", f"ledger={pub}", "--witness-state",
                      str(state), check=False)
    assert verdict.returncode == 1 and "history was rewritten" in verdict.stdout
