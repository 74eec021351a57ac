"""Concurrency mix-ins: one thread per request, a bounded thread pool, one process per request.

Each overrides only ``process_request`` and ``server_close`` (plus the
reaping hooks of :class:`ForkingMixIn`, and a constructor that checks
:attr:`ThreadPoolMixIn.max_workers`), as ``socketserver``'s do. Put the
mix-in first: ``class Server(ThreadingMixIn, TCPServer)``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import sys
import threading
from typing import Any, Optional, Set

from ._pool import WorkerPool

__all__ = ["ForkingMixIn", "ThreadPoolMixIn", "ThreadingMixIn"]


class _RequestThread(threading.Thread):
    """A handler thread that removes itself from its server's registry when done."""

    def __init__(self, registry: _ThreadRegistry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._registry = registry

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._registry.discard(self)


class _ThreadRegistry:
    """The live handler threads of a server; finished threads remove themselves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: Set[threading.Thread] = set()

    def add(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.add(thread)

    def discard(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.discard(thread)

    def join(self) -> None:
        while True:
            with self._lock:
                if not self._threads:
                    return
                thread = next(iter(self._threads))
            thread.join()
            self.discard(thread)


class ThreadingMixIn:
    """Handle each request in a new thread.

    Attributes:
        daemon_threads: Make handler threads daemons, so they do not keep the
            interpreter alive at exit. Default ``False``.
        block_on_close: ``server_close()`` waits for running non-daemon handler
            threads. Default ``True``. Finished threads are forgotten as they end,
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
    _handler_threads: Optional[_ThreadRegistry] = None

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
        if self._handler_threads is None:
            self._handler_threads = _ThreadRegistry()
        registry = self._handler_threads
        thread = _RequestThread(
            registry,
            target=self.process_request_thread,
            args=(request, client_address),
            daemon=self.daemon_threads,
        )
        if self.block_on_close and not self.daemon_threads:
            registry.add(thread)
        try:
            thread.start()
        except BaseException:
            registry.discard(thread)  # Never started: server_close() must not join it.
            raise

    def server_close(self) -> None:
        """Close the server, then wait for non-daemon handler threads if :attr:`block_on_close`."""
        super().server_close()  # type: ignore[misc]
        if self.block_on_close and self._handler_threads is not None:
            self._handler_threads.join()


def _default_max_workers() -> int:
    return min(32, (os.cpu_count() or 1) + 4)


class ThreadPoolMixIn(ThreadingMixIn):
    """Handle requests on a bounded pool of reused threads.

    At most :attr:`max_workers` handlers run at once; further requests wait
    in a queue, in arrival order. Threads start lazily and are reused, which
    saves a thread start per request. :attr:`daemon_threads` and
    :attr:`block_on_close` mean what they mean for :class:`ThreadingMixIn`:
    with ``block_on_close`` and without ``daemon_threads``, ``server_close()``
    waits until every queued and running request has finished.

    Attributes:
        max_workers: The bound; default ``min(32, os.cpu_count() + 4)``.

    Raises:
        ValueError: At construction, if ``max_workers`` is not a positive int.

    Example:
        >>> import netserve
        >>> class Server(netserve.ThreadPoolMixIn, netserve.TCPServer):
        ...     max_workers = 4
        >>> with Server(("127.0.0.1", 0), netserve.BaseRequestHandler) as server:
        ...     server.max_workers
        4
    """

    max_workers: int = _default_max_workers()
    _pool: Optional[WorkerPool] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        workers = self.max_workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"max_workers must be a positive int, not {workers!r}")
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Queue the request for the pool."""
        if self._pool is None:
            self._pool = WorkerPool(
                self.process_request_thread, self.max_workers, self.daemon_threads
            )
        self._pool.submit(request, client_address)

    def server_close(self) -> None:
        """Close the server and the pool; with :attr:`block_on_close`, wait for the queue."""
        super().server_close()
        if self._pool is not None:
            self._pool.close(wait=self.block_on_close and not self.daemon_threads)


def _wait_for_any_child(pids: Set[int]) -> None:
    # Blocks until one of ``pids`` has exited, never reaping (or even waiting on)
    # children that are not this server's, unlike waitpid(-1).
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        os.waitpid(next(iter(pids)), 0)
        return
    fds = []
    try:
        for pid in pids:
            try:
                fds.append(pidfd_open(pid))
            except ProcessLookupError:
                return  # Already exited: the caller's next reap collects it.
            except OSError:
                os.waitpid(pid, 0)  # No pidfd support in this kernel: wait for this one.
                return
        with selectors.DefaultSelector() as selector:
            for fd in fds:
                selector.register(fd, selectors.EVENT_READ)
            selector.select()
    finally:
        for fd in fds:
            os.close(fd)


def _flush_standard_streams() -> None:
    # os._exit() skips flushing: a child's prints and logged errors would be lost.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()


class ForkingMixIn:
    """Handle each request in a forked child process.

    Children are reaped in ``service_actions()`` (each ``serve_forever`` pass),
    ``handle_timeout()`` and ``server_close()``, so none is left a zombie.
    Only this server's own children are ever waited for.

    Attributes:
        max_children: At most this many children at once; ``process_request``
            waits for one to exit first. Default 40.
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

    def collect_children(self, *, blocking: bool = False) -> None:
        """Reap exited children; wait for all of them if ``blocking``.

        While :attr:`max_children` or more are running, wait until some exit.
        """
        children = self.active_children
        if children is None:
            return
        while len(children) >= self.max_children:
            _wait_for_any_child(children)
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
                _flush_standard_streams()
                os._exit(status)

    def server_close(self) -> None:
        """Close the server, then reap children, waiting for all if :attr:`block_on_close`."""
        super().server_close()  # type: ignore[misc]
        self.collect_children(blocking=self.block_on_close)
