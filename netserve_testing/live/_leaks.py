"""What a server can leave behind, and how teardown finds it: threads, children, sockets, files.

Unix socket files go in a private, short-path directory (:func:`private_socket_dir`)
that teardown empties and removes, naming each file left in it. A
:class:`LeakCheck` notes the threads and open sockets before the first server
starts and names the new threads, and the sockets and pipes the servers own
(:meth:`LeakCheck.fd_target` identifies them), still there after teardown. Forked children get
until a deadline to exit (woken by a pidfd, never polled where one exists),
then are killed and reaped.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import tempfile
import threading
import time
from typing import Callable, Collection, Dict, List, Mapping, Optional, Set

__all__ = [
    "LeakCheck",
    "kill_child",
    "open_sockets",
    "private_socket_dir",
    "remove_socket_dir",
    "running_children",
    "wait_for_children",
]

# Without pidfd_open (not Linux, or a kernel before 5.3) child exits cannot wake a
# waiter; it then checks them this often until the deadline.
_CHILD_CHECK_INTERVAL = 0.01


def open_sockets() -> Dict[int, str]:
    """Return ``{fd: link target}`` for the process's open sockets and pipes.

    Reads ``/proc/self/fd`` (Linux) or ``/dev/fd`` (BSD, macOS); empty elsewhere.

    Example:
        >>> import socket
        >>> with socket.socket() as sock:
        ...     sock.fileno() in open_sockets()
        True
    """
    for base in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        found = {}
        for name in names:
            try:
                target = os.readlink(os.path.join(base, name))
            except OSError:
                continue
            if target.startswith(("socket:", "pipe:")):
                found[int(name)] = target
        return found
    return {}


def _short_tmp() -> str:
    # /tmp keeps unix socket paths far below the 107-byte limit; TMPDIR may be long.
    return "/tmp" if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK) else tempfile.gettempdir()


def private_socket_dir() -> str:
    """Create a private (0700) directory with a short path for Unix sockets; return its path.

    The name holds the pytest-xdist worker id, so workers never share one.

    Example:
        >>> import os
        >>> path = private_socket_dir()
        >>> oct(os.stat(path).st_mode & 0o777)
        '0o700'
        >>> os.rmdir(path)
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return tempfile.mkdtemp(prefix=f"ns-{worker}-" if worker else "ns-", dir=_short_tmp())


def remove_socket_dir(directory: str) -> List[str]:
    """Remove ``directory`` and every file in it; return one leak line per file it held.

    Example:
        >>> remove_socket_dir(private_socket_dir())
        []
    """
    leaks = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        leaks.append(f"socket file left behind: {path}")
        os.unlink(path)
    os.rmdir(directory)
    return leaks


class LeakCheck:
    """The threads and open sockets of the process now; :meth:`leaks` names the new ones.

    Sockets and pipes count only when a server owns them (its own, and the
    connections it accepted): those the test's own code opens, such as a client
    made on first use and kept, are not the server's leaks.

    Example:
        >>> check = LeakCheck()
        >>> check.leaks()
        []
    """

    def __init__(self) -> None:
        self._threads = set(threading.enumerate())
        self._sockets = open_sockets()

    @staticmethod
    def fd_target(fd: int) -> Optional[str]:
        """Return what the file descriptor ``fd`` is, such as ``"socket:[81234]"``, or ``None``.

        Duplicates of one socket or pipe (``dup()``, ``fork()``) share the target.
        ``None`` where the system does not say (no ``/proc/self/fd``).

        Example:
            >>> import socket
            >>> with socket.socket() as sock:
            ...     target = LeakCheck.fd_target(sock.fileno())
            ...     target is None or target.startswith("socket:")
            True
        """
        for base in ("/proc/self/fd", "/dev/fd"):
            try:
                return os.readlink(f"{base}/{fd}")
            except OSError:
                continue
        return None

    def leaks(
        self,
        reported: Collection[threading.Thread] = (),
        owned: Optional[Mapping[str, str]] = None,
    ) -> List[str]:
        """One line per thread started, and per owned socket or pipe opened, since; still there.

        Args:
            reported: Threads already reported another way, left out here.
            owned: ``{fd_target(): what it is}`` of the servers' sockets and pipes.
        """
        owned = owned or {}
        found = [
            f"thread left running: {thread!r}"
            for thread in threading.enumerate()
            if thread not in self._threads and thread not in reported
        ]
        for fd, target in sorted(open_sockets().items()):
            if self._sockets.get(fd) != target and target in owned:
                found.append(
                    f"{target.split(':')[0]} left open: fd {fd} ({target}), {owned[target]}"
                )
        return found


def running_children(pids: Collection[int]) -> Set[int]:
    """Reap those of ``pids`` that exited; return those still running.

    Pids that are not (or no longer) children of this process are dropped, so a
    pid the system reused for another process is never waited for or killed.
    """
    running = set()
    for pid in pids:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        if done == 0:
            running.add(pid)
    return running


def wait_for_children(pids: Collection[int], deadline: float) -> Set[int]:
    """Wait until every child in ``pids`` exits or ``deadline``; return those still running.

    Args:
        pids: Children of this process, unreaped.
        deadline: A ``time.monotonic()`` value.
    """
    pidfd_open: Optional[Callable[[int], int]] = getattr(os, "pidfd_open", None)
    watched: Dict[int, int] = {}
    unwatched = set()
    try:
        for pid in pids:
            try:
                if pidfd_open is None:
                    raise OSError("no pidfd_open")
                watched[pidfd_open(pid)] = pid
            except ProcessLookupError:
                continue
            except OSError:
                unwatched.add(pid)
        while watched or unwatched:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if unwatched:
                remaining = min(remaining, _CHILD_CHECK_INTERVAL)
            ready, _, _ = select.select(list(watched), [], [], remaining)
            for fd in ready:
                if fd in watched:
                    os.close(fd)
                    del watched[fd]
            unwatched = running_children(unwatched)
        return running_children([*watched.values(), *unwatched])
    finally:
        for fd in watched:
            os.close(fd)


def kill_child(pid: int) -> None:
    """Kill the child ``pid`` (``SIGKILL``) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
