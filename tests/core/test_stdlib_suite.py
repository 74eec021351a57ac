"""CPython's own ``test_socketserver``, run with netserve in place of ``socketserver``.

It runs for the interpreter running the tests, through ``tests/core/run_stdlib_suite.py``
in a child process (bounded in time); skipped when this interpreter ships no test package.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ._support import child_env

RUNNER = Path(__file__).with_name("run_stdlib_suite.py")
NO_STDLIB_TESTS = 3


def test_cpython_test_socketserver_passes_against_netserve(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(RUNNER)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=child_env(),
        cwd=tmp_path,  # the suite makes socket files in the working directory
    )
    if completed.returncode == NO_STDLIB_TESTS:
        pytest.skip(f"this interpreter has no test.test_socketserver: {completed.stderr.strip()}")
    summary = completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else ""
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert ", 0 failures, 0 errors" in summary, summary
