"""A bounded pool of worker threads fed from a queue that the server keeps bounded."""

from __future__ import annotations

import itertools
import sys
import threading
from _weakrefset import WeakSet  # weakref's WeakSet, without importing all of weakref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from queue import SimpleQueue
    from typing import Any, Callable, List, Optional, Tuple

    _Work = Optional[Tuple[Any, Any]]

_pool_numbers = itertools.count(1)

# Idle workers wait for work forever, so a pool whose server was never closed would keep
# the interpreter from exiting. threading's pre-join exit hook (the one
# concurrent.futures uses) closes every live pool first: workers finish the requests
# they have, then exit, and the interpreter joins them as usual.
_live_pools: WeakSet[WorkerPool] = WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_registered = False


def _close_live_pools() -> None:
    for pool in list(_live_pools):
        pool.close(wait=False)


def _track(pool: WorkerPool) -> bool:
    """Arrange for ``pool`` to be closed at interpreter exit; False if that is impossible."""
    global _exit_hook_registered
    register = getattr(threading, "_register_atexit", None)
    if register is None:
        return False
    with _exit_hook_lock:
        if not _exit_hook_registered:
            try:
                register(_close_live_pools)
            except RuntimeError:
                return False  # The interpreter is shutting down already.
            _exit_hook_registered = True
    _live_pools.add(pool)
    return True


# How long the main thread waits at a time for a thread to end (see join_thread()).
_MAIN_THREAD_JOIN_SLICE = 0.1


def join_thread(thread: threading.Thread) -> None:
    """Wait for ``thread`` to end; in the main thread, in slices, so signals stay handled.

    The kernel hands a process-wide signal (Ctrl-C, SIGTERM) to any thread that does not
    block it, and Python runs the handler only when the main thread next wakes: an
    untimed join there could hold a second Ctrl-C for as long as a handler runs. Timed
    joins wake the main thread now and then, so its handlers run within a slice.
    """
    if threading.current_thread() is not threading.main_thread():
        thread.join()
        return
    while thread.is_alive():
        thread.join(_MAIN_THREAD_JOIN_SLICE)


class WorkerPool:
    """Runs ``work(request, client_address)`` on at most ``max_workers`` threads.

    Threads start lazily, one per request that finds no idle worker, up to the
    bound; requests beyond it wait in the queue, whose length the server bounds
    by not accepting while :meth:`has_room` is false. Requests still queued when
    the pool closes never start: ``discard(request, client_address)`` closes them.
    Invariants: ``_idle`` counts workers that finished an item and have not yet
    been promised another one; ``_on_room``, when set, is called once by the next
    worker that takes a request out of the queue.
    """

    def __init__(
        self,
        work: Callable[[Any, Any], None],
        max_workers: int,
        daemon: bool,
        discard: Callable[[Any, Any], None],
    ) -> None:
        self._work = work
        self._discard = discard
        self._max_workers = max_workers
        self._daemon = daemon
        # Imported here, when a server first needs a pool: "import netserve" stays cheap.
        from queue import SimpleQueue

        self._queue: SimpleQueue[_Work] = SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._on_room: Optional[Callable[[], None]] = None
        self._workers: List[threading.Thread] = []
        self._closed = False
        self._name = f"netserve-pool-{next(_pool_numbers)}"
        if not _track(self):
            self._daemon = True  # Without the exit hook, only daemon workers cannot hang exit.

    def submit(self, request: Any, client_address: Any) -> None:
        """Queue a request; start a worker if none is idle and the bound allows."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the server's thread pool is closed")
            self._queue.put((request, client_address))
            if self._idle.acquire(blocking=False):
                return
            if len(self._workers) < self._max_workers:
                worker = threading.Thread(
                    target=self._run,
                    name=f"{self._name}-worker-{len(self._workers) + 1}",
                    daemon=self._daemon,
                )
                self._workers.append(worker)
                worker.start()

    def queued(self) -> int:
        """Return how many requests wait for a worker."""
        return self._queue.qsize()

    def has_room(self, limit: int, on_room: Callable[[], None]) -> bool:
        """Return whether fewer than ``limit`` requests wait; if not, call ``on_room`` later.

        ``on_room`` runs once, in a worker, as soon as a worker takes a request.
        """
        if self._queue.qsize() < limit:
            return True
        self._on_room = on_room
        # A worker may have taken a request before it could see on_room: look again.
        if self._queue.qsize() < limit:
            self._on_room = None
            return True
        return False

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if self._on_room is not None:
                on_room, self._on_room = self._on_room, None
                if on_room is not None:
                    on_room()
            if item is None:
                return
            try:
                self._work(*item)
            except SystemExit:
                pass  # Ends a request thread silently, as in ThreadingMixIn; the worker lives.
            except BaseException:
                # What would end a request thread of ThreadingMixIn (a handle_error that
                # re-raises, a failing shutdown_request) is reported the same way, and
                # the worker goes on: a dead worker would shrink the pool for good.
                _report_exception()
            del item  # Drop the request before waiting for the next one.
            self._idle.release()

    def close(self, wait: bool) -> None:
        """Close the requests that never started, let the workers finish theirs and exit.

        Joins the workers (so waits for the running requests) if ``wait``.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
        from queue import Empty

        never_started = []
        while True:
            try:  # Workers may take requests meanwhile: those have started.
                item = self._queue.get_nowait()
            except Empty:
                break
            if item is not None:
                never_started.append(item)
        for _ in workers:
            self._queue.put(None)
        for request, client_address in never_started:
            try:
                self._discard(request, client_address)
            except Exception:
                _report_exception()  # One failure must not keep the other requests open.
        del never_started
        if wait:
            for worker in workers:
                join_thread(worker)


def _report_exception() -> None:
    # Reports the exception being handled as an uncaught one of the current thread.
    exc_type, exc_value, exc_traceback = sys.exc_info()
    threading.excepthook(
        threading.ExceptHookArgs((exc_type, exc_value, exc_traceback, threading.current_thread()))
    )
    del exc_type, exc_value, exc_traceback
