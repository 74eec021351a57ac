"""Concurrency mix-ins: one thread per request, a bounded thread pool, one process per request.

Each overrides only ``process_request`` and ``server_close`` (plus the
reaping hooks of :class:`ForkingMixIn`, constructors that check
:attr:`ThreadPoolMixIn.max_workers`, :attr:`ThreadPoolMixIn.max_queued` and
:attr:`ForkingMixIn.max_children`, and the private ``_accept_pause`` and
``_check_can_serve`` hooks of the loop), as ``socketserver``'s do. Put the
mix-in first: ``class Server(ThreadingMixIn, TCPServer)``.
"""

from __future__ import annotations

import os
import selectors
import sys
import threading

from ._coverage import save_child_coverage
from ._pool import WorkerPool, join_thread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, List, Optional, Set

__all__ = ["ForkingMixIn", "ThreadPoolMixIn", "ThreadingMixIn"]


class _Threads(list):  # type: ignore[type-arg]
    """The non-daemon handler threads ``server_close()`` joins; finished ones are reaped.

    ``socketserver``'s private name and meaning, which code written for it uses
    (``len(server._threads)``, ``vars(self).setdefault('_threads', _Threads())``):
    a list, ``append()`` forgets the threads that have finished and ignores daemon
    threads, ``join()`` waits for every thread in it and empties it, ``pop_all()``
    empties it and returns what it held. Safe to use from several threads.
    """

    def __init__(self, threads: Iterable[threading.Thread] = ()) -> None:
        super().__init__(threads)
        self._lock = threading.Lock()

    def append(self, thread: threading.Thread) -> None:
        with self._lock:
            self[:] = [alive for alive in self if alive.is_alive()]
            if not thread.daemon:
                super().append(thread)

    def reap(self) -> None:
        """Forget the threads that have finished."""
        with self._lock:
            self[:] = [alive for alive in self if alive.is_alive()]

    def pop_all(self) -> List[threading.Thread]:
        """Empty the list; return the threads it held."""
        with self._lock:
            threads = list(self)
            self.clear()
        return threads

    def join(self) -> None:
        """Wait for every thread in the list, then forget them."""
        for thread in self.pop_all():
            join_thread(thread)


class _NoThreads:
    """The ``_threads`` of a server that keeps no threads (``block_on_close`` false)."""

    def append(self, thread: threading.Thread) -> None:
        pass

    def join(self) -> None:
        pass

    def __len__(self) -> int:
        return 0


class ThreadingMixIn:
    """Handle each request in a new thread.

    Attributes:
        daemon_threads: Make handler threads daemons, so they do not keep the
            interpreter alive at exit. Default ``False``.
        block_on_close: ``server_close()`` waits for running non-daemon handler
            threads. Default ``True``. The threads are kept in ``_threads`` (as
            in ``socketserver``); finished ones are forgotten as new ones start,
            so a long-running server's bookkeeping does not grow.

    Example:
        >>> import netserve
        >>> class Server(netserve.ThreadingMixIn, netserve.TCPServer):
        ...     daemon_threads = True
        >>> issubclass(netserve.ThreadingTCPServer, netserve.ThreadingMixIn)
        True
    """

    daemon_threads: bool = False
    block_on_close: bool = True
    _threads: Any = _NoThreads()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Run one request in its thread: ``finish_request``, errors to ``handle_error``."""
        try:
            self.finish_request(request, client_address)  # type: ignore[attr-defined]
        except Exception:
            self.handle_error(request, client_address)  # type: ignore[attr-defined]
        finally:
            self.shutdown_request(request)  # type: ignore[attr-defined]

    def process_request(self, request: Any, client_address: Any) -> None:
        """Start a thread that runs :meth:`process_request_thread`."""
        if self.block_on_close:
            vars(self).setdefault("_threads", _Threads())
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            daemon=self.daemon_threads,
        )
        thread.start()
        # Recorded once started: a thread that failed to start is never joined.
        self._threads.append(thread)

    def server_close(self) -> None:
        """Close the server, then wait for non-daemon handler threads if :attr:`block_on_close`."""
        super().server_close()  # type: ignore[misc]
        if self.block_on_close:
            self._threads.join()


def _default_max_workers() -> int:
    return min(32, (os.cpu_count() or 1) + 4)


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, not {value!r}")


class ThreadPoolMixIn(ThreadingMixIn):
    """Handle requests on a bounded pool of reused threads, with a bounded queue.

    At most :attr:`max_workers` handlers run at once; further requests wait
    in a queue, in arrival order. Threads start lazily and are reused, which
    saves a thread start per request. When :attr:`max_queued` requests wait,
    ``serve_forever()`` stops accepting until a worker takes one, and the
    kernel's listen backlog holds the next connections: a flood costs at most
    ``max_workers + max_queued`` open connections, never an unbounded queue.

    :attr:`daemon_threads` and :attr:`block_on_close` mean what they mean for
    :class:`ThreadingMixIn`. ``server_close()`` closes the queued requests that
    never started at once (their clients see the connection closed) and, with
    ``block_on_close`` and without ``daemon_threads``, waits for the running
    ones: its time is bounded by the running requests, not by the queue.

    Attributes:
        max_workers: The bound on threads; default ``min(32, os.cpu_count() + 4)``.
        max_queued: The bound on requests waiting for a worker; default 32.

    Raises:
        ValueError: At construction, if ``max_workers`` or ``max_queued`` is not
            a positive int.

    Example:
        >>> import netserve
        >>> class Server(netserve.ThreadPoolMixIn, netserve.TCPServer):
        ...     max_workers = 4
        ...     max_queued = 8
        >>> with Server(("127.0.0.1", 0), netserve.BaseRequestHandler) as server:
        ...     server.max_workers, server.max_queued
        (4, 8)
    """

    max_workers: int = _default_max_workers()
    max_queued: int = 32
    _pool: Optional[WorkerPool] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _check_positive("max_workers", self.max_workers)
        _check_positive("max_queued", self.max_queued)
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Queue the request for the pool."""
        if self._pool is None:
            self._pool = WorkerPool(
                self.process_request_thread,
                self.max_workers,
                self.daemon_threads,
                self._close_unstarted_request,
            )
        self._pool.submit(request, client_address)

    def _close_unstarted_request(self, request: Any, client_address: Any) -> None:
        self.shutdown_request(request)  # type: ignore[attr-defined]

    def _accept_pause(self) -> Optional[float]:
        # Not accepting while the queue is full; a worker taking a request wakes the loop.
        pool = self._pool
        if pool is not None and not pool.has_room(self.max_queued, self._wake_loop):  # type: ignore[attr-defined]
            return None
        return super()._accept_pause()  # type: ignore[misc,no-any-return]

    def server_close(self) -> None:
        """Close the server and the queued requests; then wait for running ones (block_on_close)."""
        super().server_close()
        if self._pool is not None:
            self._pool.close(wait=self.block_on_close and not self.daemon_threads)


def _wait_for_any_child(pids: Set[int], wake_fd: Optional[int]) -> None:
    # Blocks until one of ``pids`` has exited or ``wake_fd`` is readable, never reaping
    # (or even waiting on) children that are not this server's, unlike waitpid(-1).
    pidfd_open = getattr(os, "pidfd_open", None)
    fds: List[int] = []
    try:
        if pidfd_open is not None:
            for pid in pids:
                try:
                    fds.append(pidfd_open(pid))
                except ProcessLookupError:
                    return  # Already exited: the caller's next reap collects it.
                except OSError:
                    break  # No pidfd support in this kernel.
            else:
                _wait_readable(fds, wake_fd, None)
                return
        # Without pidfds: wake now and then to reap, or at once on the wake-up channel.
        _wait_readable([], wake_fd, _CHILD_POLL_INTERVAL)
    finally:
        for fd in fds:
            os.close(fd)


# How often a server at max_children checks for exited children without pidfd_open().
_CHILD_POLL_INTERVAL = 0.05


def _wait_readable(fds: List[int], wake_fd: Optional[int], timeout: Optional[float]) -> None:
    with selectors.DefaultSelector() as selector:
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
        if wake_fd is not None:
            selector.register(wake_fd, selectors.EVENT_READ)
        if fds or wake_fd is not None:
            selector.select(timeout)
        elif timeout is not None:
            threading.Event().wait(timeout)


def _flush_standard_streams() -> None:
    # os._exit() skips flushing: a child's prints and logged errors would be lost.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except Exception:  # noqa: S110  # a broken stream must not stop the child's exit
                pass


def _check_max_children(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_children must be a positive int, not {value!r}")


class ForkingMixIn:
    """Handle each request in a forked child process.

    Children are reaped in ``service_actions()`` (each ``serve_forever`` pass),
    ``handle_timeout()`` and ``server_close()``, so none is left a zombie.
    Only this server's own children are ever waited for.

    Attributes:
        max_children: At most this many children at once; at the bound,
            ``serve_forever()`` waits for one to exit before accepting again,
            and ``shutdown()`` still returns at once. Default 40. A value below
            1 is a ``ValueError`` at construction or, if set later, when
            serving starts.
        active_children: The pids of running children (a set), or ``None``.
        block_on_close: ``server_close()`` waits for every child. Default ``True``.
        timeout: 300, so ``handle_request()`` returns to reap children.

    Example:
        >>> import netserve
        >>> netserve.ForkingTCPServer.max_children
        40
    """

    timeout: Optional[float] = 300
    active_children: Optional[Set[int]] = None
    max_children: int = 40
    block_on_close: bool = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _check_max_children(self.max_children)
        super().__init__(*args, **kwargs)

    def _check_can_serve(self) -> None:
        _check_max_children(self.max_children)
        super()._check_can_serve()  # type: ignore[misc]

    def collect_children(self, *, blocking: bool = False) -> None:
        """Reap exited children; wait for all of them if ``blocking``.

        While :attr:`max_children` or more are running, wait until some exit,
        or until a shutdown is requested.
        """
        children = self.active_children
        if children is None:
            return
        _check_max_children(self.max_children)
        while len(children) >= self.max_children:
            if getattr(self, "_shutdown_requested", False):
                break  # shutdown() must not wait for a child to exit.
            wakeup = getattr(self, "_wakeup", None)
            _wait_for_any_child(children, None if wakeup is None else wakeup.read_fd)
            if wakeup is not None:
                wakeup.drain()
            self._reap(children, blocking=False)
        self._reap(children, blocking=blocking)

    @staticmethod
    def _reap(children: Set[int], *, blocking: bool) -> None:
        flags = 0 if blocking else os.WNOHANG
        for pid in list(children):
            try:
                done, _ = os.waitpid(pid, flags)
            except ChildProcessError:
                children.discard(pid)  # Reaped by someone else already.
                continue
            if done:
                children.discard(pid)

    def handle_timeout(self) -> None:
        """Reap children when ``handle_request()`` times out."""
        self.collect_children()

    def service_actions(self) -> None:
        """Reap children on each ``serve_forever()`` pass."""
        self.collect_children()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Fork: the child handles the request and exits; the parent closes its copy."""
        _check_max_children(self.max_children)
        pid = os.fork()
        if pid:
            if self.active_children is None:
                self.active_children = set()
            self.active_children.add(pid)
            self.close_request(request)  # type: ignore[attr-defined]
            return
        # In the child: never return into the parent's loop, whatever happens.
        status = 1
        try:
            forget_parent_loop = getattr(self, "_forget_parent_loop", None)
            if forget_parent_loop is not None:
                forget_parent_loop()
            self.finish_request(request, client_address)  # type: ignore[attr-defined]
            status = 0
        except Exception:
            self.handle_error(request, client_address)  # type: ignore[attr-defined]
        finally:
            try:
                self.shutdown_request(request)  # type: ignore[attr-defined]
            finally:
                save_child_coverage()  # os._exit() skips coverage.py's atexit save
                _flush_standard_streams()
                os._exit(status)

    def server_close(self) -> None:
        """Close the server, then reap children, waiting for all if :attr:`block_on_close`."""
        super().server_close()  # type: ignore[misc]
        self.collect_children(blocking=self.block_on_close)
