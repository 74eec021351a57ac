"""``bench/bench_scripts.py --runs 2`` runs to the end and prints its table (no timing asserts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_scripts.py"


def test_bench_scripts_prints_the_table() -> None:
    completed = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", str(BENCH), "--runs", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "ResourceWarning" not in completed.stderr
    rows = completed.stdout.splitlines()
    assert rows[0].split() == ["benchmark", "memory/s", "real/s", "ratio"]
    for row in ("HTTP keep-alive, 3 requests", "CRLF get x3", "HTTP golden text"):
        assert any(line.startswith(row) for line in rows), completed.stdout
