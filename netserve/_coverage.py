"""Coverage data of a forked child, saved before the child leaves through ``os._exit()``.

A forking server's child ends with ``os._exit()``, which skips the ``atexit`` hook
coverage.py saves its data in: the lines a handler ran in a child would be missing
from the report. When coverage.py is measuring this process (``coverage run``,
pytest-cov), :func:`save_child_coverage` saves the child's data first, to a data
file of its own that coverage.py combines with the others, as its ``patch = _exit``
setting does, with nothing for the user to configure.

netserve does not depend on coverage.py: it is used only when the process has
imported it already, and nothing here may change how the child exits.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["save_child_coverage"]

# The process that saved last; a child saves once, whichever exit path comes first.
_saved_by = 0


def save_child_coverage() -> None:
    """Stop coverage.py and save its data, if it measures this (forked child) process.

    Call it in a forked child just before ``os._exit()``. It does nothing when
    coverage.py is not imported or not measuring, and never raises.

    The data goes to a file of its own (``.coverage.<host>.pid<pid>.<random>``),
    never to the parent's: coverage.py erases a data file on first use in a new
    process, so a child writing the parent's file would lose the data of other
    children. With pytest-cov or ``parallel = true`` that is how coverage.py
    names files already; pytest-cov and ``coverage combine`` (implicit in
    ``coverage report`` since coverage.py 7.14) merge them.

    Example:
        >>> pid = os.fork()  # doctest: +SKIP
        >>> if pid == 0:  # doctest: +SKIP
        ...     try:
        ...         handle()
        ...     finally:
        ...         save_child_coverage()
        ...         os._exit(0)
    """
    global _saved_by
    coverage: Any = sys.modules.get("coverage")
    if coverage is None or _saved_by == os.getpid():
        return
    try:
        current = coverage.Coverage.current()
        if current is None:  # imported, not measuring
            return
        _saved_by = os.getpid()
        current.stop()
        if not current.get_option("run:parallel") and not _write_own_file(current):
            return
        current.save()
    except Exception:  # noqa: BLE001 - coverage.py must never change how the child exits
        return


def _write_own_file(current: Any) -> bool:
    # A Coverage without parallel data files (plain `coverage run`) would write, and so
    # first erase, the parent's `.coverage` in this process. Give its data a suffix, as
    # parallel mode does; the data object then picks its file name in this process. If
    # this coverage.py keeps its data otherwise, save nothing rather than risk the
    # parent's data.
    data = getattr(current, "_data", None)
    if data is None or getattr(data, "_suffix", True) is not None:
        return False
    if getattr(data, "_pid", os.getpid()) == os.getpid():  # not forked since it was used
        return False
    data._suffix = True
    data._our_suffix = True
    return True
