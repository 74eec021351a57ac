"""Fixtures for the core tests (plain sockets and threads, no netserve_testing fixtures)."""

from __future__ import annotations

import shutil
import socket
import tempfile
from typing import Iterator

import pytest

#: The warning Python 3.12+ gives when fork() runs while other threads exist; the forking
#: tests fork on purpose, and pytest-xdist keeps threads of its own in each worker.
FORK_IN_THREAD_WARNING = "ignore:.*use of fork\\(\\) may lead to deadlocks:DeprecationWarning"


@pytest.fixture
def unix_dir() -> Iterator[str]:
    """A private, short temporary directory for Unix socket files (function scope, ``str``).

    Short on purpose: ``sun_path`` holds at most 107 bytes, and pytest's ``tmp_path`` can be
    longer. Removed with everything in it after the test.
    """
    if not hasattr(socket, "AF_UNIX"):
        pytest.skip("unix sockets are not available")
    path = tempfile.mkdtemp(prefix="ns-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def unix_path(unix_dir: str) -> str:
    """A fresh Unix socket path (``str``) inside :func:`unix_dir`; nothing exists there yet."""
    return f"{unix_dir}/server.sock"
