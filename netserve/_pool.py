"""A bounded pool of worker threads fed from an unbounded queue of requests."""

from __future__ import annotations

import itertools
import queue
import sys
import threading
import weakref
from typing import Any, Callable, List, Optional, Tuple

_Work = Optional[Tuple[Any, Any]]
_pool_numbers = itertools.count(1)

# Idle workers block on their queue forever, so a pool whose server was never closed
# would keep the interpreter from exiting. threading's pre-join exit hook (the one
# concurrent.futures uses) closes every live pool first: workers finish the requests
# they have, then exit, and the interpreter joins them as usual.
_live_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
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


class WorkerPool:
    """Runs ``work(request, client_address)`` on at most ``max_workers`` threads.

    Threads start lazily, one per request that finds no idle worker, up to the
    bound; requests beyond it wait in the queue. Invariant: ``_idle`` counts
    workers that finished an item and have not yet been promised another one.
    """

    def __init__(self, work: Callable[[Any, Any], None], max_workers: int, daemon: bool) -> None:
        self._work = work
        self._max_workers = max_workers
        self._daemon = daemon
        self._queue: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
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

    def _run(self) -> None:
        while True:
            item = self._queue.get()
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
                exc_type, exc_value, exc_traceback = sys.exc_info()
                threading.excepthook(
                    threading.ExceptHookArgs(
                        (exc_type, exc_value, exc_traceback, threading.current_thread())
                    )
                )
                del exc_type, exc_value, exc_traceback
            del item  # Drop the request before waiting for the next one.
            self._idle.release()

    def close(self, wait: bool) -> None:
        """Let the workers finish the queued requests and exit; join them if ``wait``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            for _ in workers:
                self._queue.put(None)
        if wait:
            for worker in workers:
                worker.join()
