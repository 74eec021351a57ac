"""``bench/bench_core.py --quick`` runs to the end and prints its table (no timing asserts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .test_cli import child_env

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_core.py"


def test_bench_core_quick_prints_the_table() -> None:
    completed = subprocess.run(
        [sys.executable, "-X", "dev", str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=child_env(),
    )

    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "ResourceWarning" not in completed.stderr
    out = completed.stdout
    assert "cpu count" in out
    header = next(line for line in out.splitlines() if line.startswith("benchmark"))
    assert header.split() == ["benchmark", "stdlib", "netserve", "speed-up"]
    for row in (
        "shutdown() latency, median",
        "shutdown() latency, p90",
        "bind+request+shutdown+close, median",
        "TCP new connection/request, threading",
        "TCP round trips, one connection, threading",
        "UDP request/reply, threading",
        "TCP new connection/request, pool",
        "TCP round trips, one connection, pool",
        "UDP request/reply, pool",
        "flood, 50 conns: fds held (pool: 2 workers)",
        "  then shutdown()+server_close()",
        "forking shutdown() at max_children, median",
        "import, fresh interpreter, CPU median",
    ):
        assert any(line.startswith(row) for line in out.splitlines()), out


def test_bench_core_rejects_a_zero_count() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--requests", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=child_env(),
    )

    assert completed.returncode == 2
    assert "argument --requests: must be at least 1" in completed.stderr
