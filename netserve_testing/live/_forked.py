"""The forked children of forking servers: what they inherit, how they end, where they are.

A child forked to handle one request inherits a copy of every socket of the test
process. Copies of connections to the kit's servers (a test's client made by
any library, a connection another server accepted) would keep those open after
the test closes its end, so the handler would never read EOF:
:func:`isolate_child` points those descriptors at ``/dev/null`` (the numbers stay
taken, so no later close by a stale socket object can hit a new file).

:func:`install_stack_dump` lets the test process ask a stuck child for its
stack before killing it (:data:`STACK_SIGNAL`), and :func:`describe_exit`
words how a child ended.
"""

from __future__ import annotations

import _socket
import contextlib
import os
import signal
import socket
import threading
from types import FrameType
from typing import Any, Callable, Hashable, Optional, Set

from ._stacks import frame_stack

__all__ = [
    "STACK_SIGNAL",
    "describe_exit",
    "install_stack_dump",
    "isolate_child",
    "leave_ctrl_c_to_main_thread",
    "register_address",
    "take_ctrl_c",
    "unregister_address",
]

#: The signal that asks a forked child for its stack: a real-time signal where there
#: is one (a handler is unlikely to use it), else SIGUSR2.
STACK_SIGNAL: int = int(signal.SIGRTMIN) + 3 if hasattr(signal, "SIGRTMIN") else int(signal.SIGUSR2)

# Addresses of the servers the kit runs in this process, as _key() gives them; a child
# reads its copy, inherited at fork.
_served: Set[Hashable] = set()
_served_lock = threading.Lock()


def _key(address: Any) -> Optional[Hashable]:
    # (host, port) for inet (IPv6 addresses have 4 fields), the path for Unix sockets.
    if isinstance(address, tuple) and len(address) >= 2:
        return (str(address[0]), int(address[1]))
    if isinstance(address, bytes):
        address = os.fsdecode(address)
    if isinstance(address, str) and address:
        return address
    return None


def register_address(address: Any) -> None:
    """Note that a kit server listens at ``address`` (children cut connections to it)."""
    key = _key(address)
    if key is not None:
        with _served_lock:
            _served.add(key)


def unregister_address(address: Any) -> None:
    """Forget ``address`` (its server is closed)."""
    key = _key(address)
    if key is not None:
        with _served_lock:
            _served.discard(key)


def _socket_fds() -> Set[int]:
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return set()
    found = set()
    for name in names:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                found.add(int(name))
    return found


def _is_kit_connection(fd: int) -> bool:
    # A connected socket one of whose ends is a kit server's address: a client's socket
    # (its peer is the server) or a connection a server accepted (its own name is).
    # The C socket type: a plugin such as pytest-socket may guard socket.socket.
    try:
        sock = _socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    try:
        try:
            if sock.type != socket.SOCK_STREAM:
                return False
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                return False
            ends = [sock.getsockname()]
            with contextlib.suppress(OSError):
                ends.append(sock.getpeername())
        except OSError:
            return False
    finally:
        sock.close()
    return any(_key(end) in _served for end in ends)


def isolate_child(keep: Set[int]) -> None:
    """In a forked child: point inherited connections to kit servers at ``/dev/null``.

    Args:
        keep: Descriptors left alone whatever they are (the child's own request).
    """
    if not _served:
        return
    null = -1
    try:
        for fd in sorted(_socket_fds() - keep):
            if not _is_kit_connection(fd):
                continue
            if null < 0:
                null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, fd, inheritable=False)
    finally:
        if null >= 0:
            os.close(null)


def install_stack_dump(send: Callable[[str], None]) -> None:
    """In a forked child: on :data:`STACK_SIGNAL`, call ``send`` with the current stack."""

    def dump(signum: int, frame: Optional[FrameType]) -> None:
        with contextlib.suppress(Exception):
            send(frame_stack(frame))

    with contextlib.suppress(ValueError, OSError):  # not the main thread: no stack then
        signal.signal(STACK_SIGNAL, dump)


def leave_ctrl_c_to_main_thread() -> None:
    """Block ``SIGINT`` in the calling thread (a kit thread), and so in threads it starts.

    The kernel gives a process's ``SIGINT`` to any thread that does not block it; one
    given to a kit thread would not wake the main thread from a blocking call, and
    Ctrl-C would wait for that call to return. Blocked here, it goes to the main thread.
    """
    with contextlib.suppress(AttributeError, OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def take_ctrl_c() -> None:
    """In a forked child: unblock ``SIGINT`` (the forking kit thread blocked it)."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def describe_exit(status: int) -> str:
    """Word a ``waitpid()`` status: ``"exited with status 3"``, ``"killed by signal 9 (SIGKILL)"``.

    Example:
        >>> describe_exit(3 << 8)
        'exited with status 3'
    """
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown"
        return f"killed by signal {number} ({name})"
    if os.WIFEXITED(status):
        return f"exited with status {os.WEXITSTATUS(status)}"
    return f"ended with wait status {status}"
