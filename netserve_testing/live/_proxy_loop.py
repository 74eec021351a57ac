"""The fault proxy's one thread: a selector over non-blocking sockets, and a heap of timers.

Every connection of a proxy is served by the same thread; delays are timers on
a heap, never sleeps. Other threads talk to the loop through :meth:`Loop.call_soon`,
which wakes it through a socket pair.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import select
import selectors
import socket
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from . import _clients

__all__ = ["Loop", "tracked_socket"]

Callback = Callable[[], None]


def tracked_socket(family: int, kind: int) -> socket.socket:
    """Return a new socket that a forked child closes at once (see the clients' registry).

    A forking server's children would otherwise keep copies of the proxy's sockets,
    and closing one in the proxy would never reach the other side as an EOF.

    Example:
        >>> with tracked_socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        ...     sock.family == socket.AF_INET
        True
    """
    with _clients._registry_lock:
        sock = socket.socket(family, kind)
        _clients._live_sockets.add(sock)
    return sock


def tracked_accept(listener: socket.socket) -> Tuple[socket.socket, object]:
    # accept() on a non-blocking listener, registered before any fork can copy it.
    with _clients._registry_lock:
        conn, address = listener.accept()
        _clients._live_sockets.add(conn)
    return conn, address


# A loop whose callbacks keep failing (a bug) stops; the proxy's close() raises the first.
_MAX_FAILURES = 20

_IN = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP if hasattr(select, "epoll") else 0
_OUT = select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP if hasattr(select, "epoll") else 0


class _Epoll:
    # epoll with a callback per fd, and the masks of `selectors` (EVENT_READ, EVENT_WRITE):
    # the proxy's hot path, without the per-event key objects of `selectors`.

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._callbacks: Dict[int, Callable[[int], None]] = {}

    @staticmethod
    def _events(mask: int) -> int:
        return (select.EPOLLIN if mask & 1 else 0) | (select.EPOLLOUT if mask & 2 else 0)

    def register(self, sock: socket.socket, mask: int, callback: Callable[[int], None]) -> None:
        fd = sock.fileno()
        self._epoll.register(fd, self._events(mask))
        self._callbacks[fd] = callback

    def modify(self, sock: socket.socket, mask: int, callback: Callable[[int], None]) -> None:
        fd = sock.fileno()
        self._epoll.modify(fd, self._events(mask))
        self._callbacks[fd] = callback

    def unregister(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        del self._callbacks[fd]
        self._epoll.unregister(fd)

    def ready(self, timeout: Optional[float]) -> List[Tuple[Callable[[int], None], int]]:
        callbacks = self._callbacks
        return [
            (callbacks[fd], (1 if events & _IN else 0) | (2 if events & _OUT else 0))
            for fd, events in self._epoll.poll(-1 if timeout is None else timeout)
            if fd in callbacks
        ]

    def close(self) -> None:
        self._epoll.close()


class _Selector:
    # The same over `selectors`, where there is no epoll.

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    def register(self, sock: socket.socket, mask: int, callback: Callable[[int], None]) -> None:
        self._selector.register(sock, mask, callback)

    def modify(self, sock: socket.socket, mask: int, callback: Callable[[int], None]) -> None:
        self._selector.modify(sock, mask, callback)

    def unregister(self, sock: socket.socket) -> None:
        self._selector.unregister(sock)

    def ready(self, timeout: Optional[float]) -> List[Tuple[Callable[[int], None], int]]:
        return [(key.data, mask) for key, mask in self._selector.select(timeout)]

    def close(self) -> None:
        self._selector.close()


class Loop:
    """A selector loop with timers, run by one thread; callbacks run in that thread.

    Example:
        >>> loop = Loop("example")
        >>> done = threading.Event()
        >>> loop.start()
        >>> loop.call_soon(done.set)
        >>> done.wait(5)
        True
        >>> loop.stop(5)
        []
    """

    def __init__(self, name: str) -> None:
        self.selector: Any = _Epoll() if hasattr(select, "epoll") else _Selector()
        self._wake_r, self._wake_w = socket.socketpair()
        for sock in (self._wake_r, self._wake_w):
            with _clients._registry_lock:
                _clients._live_sockets.add(sock)
            sock.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        self._timers: List[Tuple[float, int, Callback]] = []
        self._serial = itertools.count()
        self._calls: Deque[Callback] = collections.deque()
        self._stopping = False
        #: Exceptions raised by callbacks: the proxy raises the first one at close.
        self.failures: List[BaseException] = []
        self.on_stop: Optional[Callback] = None
        #: Called with the callback that raised and the exception (in the loop's thread).
        self.on_failure: Optional[Callable[[Callable[..., None], Exception], None]] = None
        self._current: Callable[..., None] = self._on_wake
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def thread(self) -> threading.Thread:
        """The loop's thread."""
        return self._thread

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def in_loop(self) -> bool:
        """Whether the caller is the loop's thread."""
        return threading.current_thread() is self._thread

    def call_soon(self, callback: Callback) -> None:
        """Run ``callback`` in the loop's thread as soon as it can (thread-safe)."""
        self._calls.append(callback)
        self._wake()

    def call_at(self, when: float, callback: Callback) -> None:
        """Run ``callback`` at ``time.monotonic() >= when`` (loop's thread only)."""
        heapq.heappush(self._timers, (when, next(self._serial), callback))

    def stop(self, timeout: float) -> List[BaseException]:
        """Stop the loop, run ``on_stop`` in it, join the thread; return the callbacks' failures.

        Closes the selector and the wake-up pair once the thread has ended.
        """

        def stopping() -> None:
            self._stopping = True

        if self._thread.is_alive():
            self.call_soon(stopping)
            self._thread.join(timeout)
        elif self.on_stop is not None and self._thread.ident is None:
            self.on_stop()  # never started: nothing else runs the loop's callbacks
        if not self._thread.is_alive():
            self.selector.close()
            self._wake_r.close()
            self._wake_w.close()
        return list(self.failures)

    def _wake(self) -> None:
        # OSError: the pair is full (the loop will wake anyway) or closed (the loop has ended).
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _on_wake(self, mask: int) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _run(self) -> None:
        try:
            while not self._stopping:
                try:
                    self._run_once()
                except Exception as exc:  # noqa: BLE001 - kept, raised again by the proxy's close()
                    self.failures.append(exc)
                    if len(self.failures) >= _MAX_FAILURES:
                        break
                    if self.on_failure is not None:
                        try:
                            self.on_failure(self._current, exc)
                        except Exception as again:  # noqa: BLE001 - as above
                            self.failures.append(again)
        finally:
            if self.on_stop is not None:
                try:
                    self.on_stop()
                except Exception as exc:  # noqa: BLE001 - kept, raised again by close()
                    self.failures.append(exc)

    def _run_once(self) -> None:
        # One wait and what it woke for. A callback that raises skips the rest of this round
        # (they run in the next one: their sockets are still ready, their timers still due).
        timers = self._timers
        calls = self._calls
        timeout = None
        if timers:
            timeout = max(0.0, timers[0][0] - time.monotonic())
        for callback, mask in self.selector.ready(timeout):
            self._current = callback
            callback(mask)
        if timers:
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                self._current = call = heapq.heappop(timers)[2]
                call()
        while calls:
            self._current = call = calls.popleft()
            call()
