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
import selectors
import socket
import threading
import time
from typing import Callable, Deque, List, Optional, Tuple

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
        self.selector = selectors.DefaultSelector()
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
        select = self.selector.select
        timers = self._timers
        calls = self._calls
        try:
            while not self._stopping:
                timeout = None
                if timers:
                    timeout = max(0.0, timers[0][0] - time.monotonic())
                for key, mask in select(timeout):
                    self._guard(key.data, mask)
                if timers:
                    now = time.monotonic()
                    while timers and timers[0][0] <= now:
                        self._guard(heapq.heappop(timers)[2])
                while calls:
                    self._guard(calls.popleft())
        finally:
            if self.on_stop is not None:
                self._guard(self.on_stop)

    def _guard(self, callback: Callable[..., None], *args: int) -> None:
        try:
            callback(*args)
        except Exception as exc:  # noqa: BLE001 - kept, raised again by the proxy's close()
            self.failures.append(exc)
