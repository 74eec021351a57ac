"""Where a stuck handler is stuck: the current stack of a thread, or of a frame, as text.

Teardown reports a handler still running at its deadline with the stack it is
in: :func:`thread_stack` reads a thread's current frame in this process
(``sys._current_frames()``); a forked child formats its own with
:func:`frame_stack` when the test process asks (see ``_forked``). Frames of the
server machinery (``threading``, ``socketserver``, ``netserve``, this kit) are
left out at the outer end, so the stack starts at the user's code.
"""

from __future__ import annotations

import os
import socketserver
import sys
import threading
import traceback
from types import FrameType
from typing import List, Optional

import netserve

__all__ = ["abandoned", "frame_stack", "indent", "thread_stack"]

_PACKAGE_DIR = os.path.dirname(os.path.normcase(os.path.abspath(__file__)))
_NETSERVE_DIR = os.path.dirname(os.path.normcase(os.path.abspath(netserve.__file__)))
_MACHINERY = frozenset(
    os.path.normcase(os.path.abspath(path))
    for path in (socketserver.__file__, threading.__file__, __file__)
)
# Lines of stack shown at most (the innermost ones): a deep recursion stays readable.
_MAX_FRAMES = 40


def _is_machinery(filename: str) -> bool:
    path = os.path.normcase(os.path.abspath(filename))
    directory = os.path.dirname(path)
    return path in _MACHINERY or directory in (_NETSERVE_DIR, _PACKAGE_DIR)


def frame_stack(frame: Optional[FrameType]) -> str:
    """Return the stack ending at ``frame`` ("most recent call last"), machinery left out.

    Example:
        >>> import sys
        >>> "in <module>" in frame_stack(sys._getframe())
        True
    """
    if frame is None:
        return "(no stack: the thread has ended)"
    summary = traceback.extract_stack(frame)
    start = 0
    while start < len(summary) - 1 and _is_machinery(summary[start].filename):
        start += 1
    frames: List[traceback.FrameSummary] = list(summary)[start:]
    skipped = max(0, len(frames) - _MAX_FRAMES)
    lines = traceback.format_list(frames[skipped:])
    head = f"({skipped} outer frames left out)\n" if skipped else ""
    return head + "".join(lines).rstrip()


def thread_stack(thread: threading.Thread) -> str:
    """Return the current stack of ``thread``, a thread of this process.

    Example:
        >>> "thread_stack" in thread_stack(threading.current_thread())
        True
    """
    ident = thread.ident
    frame = sys._current_frames().get(ident) if ident is not None else None
    return frame_stack(frame)


def indent(text: str, prefix: str = "    ") -> str:
    """Return ``text`` with every line indented by ``prefix``.

    Example:
        >>> indent("a\\nb", "> ")
        '> a\\n> b'
    """
    return "\n".join(prefix + line for line in text.splitlines())


def abandoned(thread: threading.Thread) -> str:
    """Word that teardown abandons ``thread``, and whether it would hold the interpreter.

    Example:
        >>> abandoned(threading.Thread(daemon=True))
        '(abandoned)'
    """
    if thread.daemon:
        return "(abandoned)"
    return (
        "(abandoned; not a daemon thread: the server class sets daemon_threads=False, so "
        "the interpreter would wait for it at exit; the pytest plugin ends the process instead)"
    )
