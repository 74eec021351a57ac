"""The base of every server: :class:`BaseServer`, its request loop and override points.

The template-method contract of ``socketserver`` is kept as is (see the
docstring of :class:`BaseServer`). What changes is how ``serve_forever()``
waits: on the listening socket *and* a wake-up pipe (see ``_loop``), so
``shutdown()`` returns as soon as the loop has noticed, not after ``poll_interval``.
"""

from __future__ import annotations

import selectors
import sys
import threading
import time

from ._errors import ShutdownDeadlockError
from ._loop import (
    _EXHAUSTION_ERRNOS,
    _UNUSABLE_ERRNOS,
    _AlwaysSet,
    _log,
    _logger,
    _new_selector,
    _next_accept_backoff,
    _Wakeup,
)

# Names for type checkers only: importing typing at run time would double the cost of
# ``import netserve`` (mypy treats any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Tuple, TypeVar

    #: What a server calls to handle one request: any ``(request, client_address, server)``
    #: callable, so handler classes written for the stdlib's ``socketserver`` work too.
    HandlerFactory = Callable[[Any, Any, Any], Any]

    _ServerT = TypeVar("_ServerT", bound="BaseServer")

__all__ = ["BaseServer"]


class BaseServer:
    """The base of every server: the request loop and its override points.

    Methods for the caller:
        ``__init__(server_address, RequestHandlerClass)``, ``serve_forever(poll_interval=0.5)``,
        ``shutdown()``, ``request_shutdown()``, ``handle_request()``, ``server_close()``,
        ``fileno()``; servers are context managers that call ``server_close()``.

    Methods that may be overridden:
        ``server_bind()``, ``server_activate()``, ``get_request()``,
        ``handle_timeout()``, ``verify_request(request, client_address)``,
        ``process_request(request, client_address)``, ``service_actions()``,
        ``shutdown_request(request)``, ``close_request(request)``,
        ``handle_error(request, client_address)``, ``server_close()``.

    Methods for derived classes:
        ``finish_request(request, client_address)``.

    Class attributes: ``timeout`` (seconds ``handle_request()`` waits for a
    request before calling ``handle_timeout()``; ``None`` waits forever);
    ``log_errors`` (True: ``handle_error()`` logs through the ``netserve``
    logger; False: it prints to stderr as ``socketserver`` does).

    Unlike ``socketserver``, ``shutdown()`` wakes ``serve_forever()`` at once
    instead of waiting for the next ``poll_interval`` tick, and raises
    :class:`~netserve.ShutdownDeadlockError` instead of hanging when called
    from the thread that runs ``serve_forever()``.

    Example:
        >>> import netserve, threading
        >>> class Echo(netserve.BaseRequestHandler):
        ...     def handle(self):
        ...         self.request.sendall(self.request.recv(1024).upper())
        >>> with netserve.TCPServer(("127.0.0.1", 0), Echo) as server:
        ...     thread = threading.Thread(target=server.serve_forever)
        ...     thread.start()
        ...     import socket
        ...     with socket.create_connection(server.server_address) as conn:
        ...         conn.sendall(b"hi")
        ...         conn.recv(1024)
        ...     server.shutdown()
        ...     thread.join()
        b'HI'
    """

    timeout: Optional[float] = None

    # Class-level defaults of the loop state mean "not serving": __init__ gives each
    # server its own, but a subclass whose __init__ was replaced or skipped (as some test
    # suites do) can still call shutdown() and server_close(). Invariant:
    # _serving_thread is not None exactly while serve_forever() runs, and _wakeup is then
    # its open wake-up channel (else None). Both change under _state_lock, re-entrant
    # because request_shutdown() may run in a signal handler that interrupts the serving
    # thread inside one of these sections.
    _state_lock = threading.RLock()
    _serving_thread: Optional[int] = None
    _wakeup: Optional[_Wakeup] = None
    _shutdown_requested = False
    # socketserver's private name for "serve_forever() is not running", which code
    # written for it reads (``server._BaseServer__is_shut_down.is_set()``).
    __is_shut_down: Any = _AlwaysSet()
    # The accept() back-off (seconds, 0 when accepts succeed) and when it ends.
    _accept_backoff = 0.0
    _accept_resume_at = 0.0

    log_errors: bool = True

    def __init__(self, server_address: Any, RequestHandlerClass: HandlerFactory) -> None:
        """Store the address and the handler class; subclasses create the socket."""
        self.server_address: Any = server_address
        self.RequestHandlerClass = RequestHandlerClass
        self._state_lock = threading.RLock()
        self.__is_shut_down = threading.Event()
        self.__is_shut_down.set()

    def _get_shutdown_request(self) -> bool:
        return self._shutdown_requested

    def _set_shutdown_request(self, value: bool) -> None:
        if value:
            self.request_shutdown()
        else:
            with self._state_lock:
                self._shutdown_requested = False

    # socketserver's private flag, which handlers and signal handlers of code written
    # for it set to stop the loop: ``server._BaseServer__shutdown_request = True``.
    # Here setting it wakes the loop, which stops at once.
    __shutdown_request = property(_get_shutdown_request, _set_shutdown_request)

    # -- the request loop ---------------------------------------------------------------

    def serve_forever(self, poll_interval: Optional[float] = 0.5) -> None:
        """Handle requests until :meth:`shutdown` or :meth:`request_shutdown` is called.

        While accepting fails because a resource ran out (``EMFILE``, ``ENFILE``,
        ``ENOBUFS``, ``ENOMEM``), the loop stops waiting on the socket for 10 ms,
        then twice as long after each new failure up to 1 s, and logs one WARNING
        per episode; it accepts at full speed again as soon as an accept succeeds.

        Args:
            poll_interval: How often, in seconds, :meth:`service_actions` runs
                when no request arrives. It does not delay ``shutdown()``.

        Raises:
            RuntimeError: If ``serve_forever()`` is already running on this server.
            OSError: If the server's socket cannot serve: closed, or a stream
                socket that is not listening (``bind_and_activate=False`` and no
                ``server_activate()``), at the start or when it happens under the loop.
        """
        try:
            wakeup = self._start_serving()
            if wakeup is None:
                return
            with _new_selector() as selector:
                selector.register(wakeup.read_fd, selectors.EVENT_READ)
                accepting = False
                while not self.__shutdown_request:
                    timeout = poll_interval
                    pause = self._accept_pause()
                    if pause == 0:
                        if not accepting:
                            selector.register(self, selectors.EVENT_READ)
                            accepting = True
                    else:
                        if accepting:
                            selector.unregister(self)
                            accepting = False
                        if pause is not None and (timeout is None or pause < timeout):
                            timeout = pause
                    ready = selector.select(timeout)
                    # shutdown() during select() wins over a request that arrived with it.
                    if self.__shutdown_request:
                        break
                    for key, _ in ready:
                        if key.fileobj is self:
                            self._handle_request_noblock()
                        else:
                            wakeup.drain()
                    self.service_actions()
        finally:
            self._stop_serving()

    def _accept_pause(self) -> Optional[float]:
        # How long the loop should not wait on the socket: 0 to accept now, a number of
        # seconds (the accept() back-off), or None until the loop is woken (a full pool).
        if self._accept_backoff:
            left = self._accept_resume_at - time.monotonic()
            if left > 0:
                return left
        return 0.0

    def _wake_loop(self) -> None:
        # Makes a running serve_forever() re-check _accept_pause() at once.
        with self._state_lock:
            if self._wakeup is not None:
                self._wakeup.wake()

    def _check_can_serve(self) -> None:
        # Raises OSError naming the problem if the socket cannot serve; BaseServer has none.
        pass

    def _start_serving(self) -> Optional[_Wakeup]:
        # Returns the loop's wake-up channel, or None if a shutdown was already requested.
        with self._state_lock:
            if self._serving_thread is not None:
                raise RuntimeError(
                    f"serve_forever() is already running on this server "
                    f"(thread {self._serving_thread})"
                )
            if self._shutdown_requested:
                self._shutdown_requested = False
                return None
            self._check_can_serve()
            if "_BaseServer__is_shut_down" not in vars(self):
                self.__is_shut_down = threading.Event()  # __init__ did not run
            self.__is_shut_down.clear()
            self._serving_thread = threading.get_ident()
            self._wakeup = _Wakeup()
            return self._wakeup

    def _stop_serving(self) -> None:
        # Runs in serve_forever()'s finally, whatever stage it reached: it cleans up only
        # what this thread started (not another thread's loop, after "already running").
        with self._state_lock:
            if self._serving_thread not in (None, threading.get_ident()):
                return
            wakeup, self._wakeup = self._wakeup, None
            if wakeup is not None:
                wakeup.close()
            self._serving_thread = None
            self._shutdown_requested = False
            self.__is_shut_down.set()

    def _forget_parent_loop(self) -> None:
        # In a forked child: the parent's wake-up pipe is not this process's to use.
        wakeup, self._wakeup = self._wakeup, None
        if wakeup is not None:
            wakeup.close()

    def request_shutdown(self) -> None:
        """Ask ``serve_forever()`` to stop, and return at once without waiting.

        Safe from any thread, including a handler of a synchronous server and
        a signal handler. If ``serve_forever()`` is not running yet, the next
        call to it returns immediately. In a forked child (a ``ForkingMixIn``
        handler) it only affects the child's copy of the server. Setting
        ``server._BaseServer__shutdown_request = True``, as code written for
        ``socketserver`` does, calls it.

        Example:
            >>> import netserve
            >>> class Stop(netserve.BaseRequestHandler):
            ...     def handle(self):
            ...         self.server.request_shutdown()
            >>> with netserve.TCPServer(("127.0.0.1", 0), Stop) as server:
            ...     import socket
            ...     socket.create_connection(server.server_address).close()
            ...     server.serve_forever()  # returns after the first request
        """
        with self._state_lock:
            self._shutdown_requested = True
            if self._wakeup is not None:
                self._wakeup.wake()

    def shutdown(self) -> None:
        """Stop ``serve_forever()`` and wait until it has returned.

        Returns as soon as the loop has stopped, whatever its ``poll_interval``.
        Called before ``serve_forever()`` starts, it makes that call return at
        once (and returns without waiting).

        Raises:
            ShutdownDeadlockError: If called from the thread running
                ``serve_forever()``, where waiting would never end; use
                :meth:`request_shutdown` there.
        """
        if self._serving_thread == threading.get_ident():
            raise ShutdownDeadlockError(
                "shutdown() called from the thread running serve_forever() would wait "
                "forever; call request_shutdown() there instead"
            )
        self.request_shutdown()
        self.__is_shut_down.wait()

    def service_actions(self) -> None:
        """Called by ``serve_forever()`` on each pass; override for periodic work."""

    def handle_request(self) -> None:
        """Wait for one request and handle it, or call :meth:`handle_timeout`.

        Waits at most the smaller of :attr:`timeout` and the socket's own
        timeout; ``None`` for both waits forever.
        """
        timeout = self._socket_timeout()
        if timeout is None:
            timeout = self.timeout
        elif self.timeout is not None:
            timeout = min(timeout, self.timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        with _new_selector() as selector:
            selector.register(self, selectors.EVENT_READ)
            while True:
                if selector.select(timeout):
                    self._handle_request_noblock()
                    return
                if deadline is not None:
                    timeout = deadline - time.monotonic()
                    if timeout <= 0:
                        self.handle_timeout()
                        return

    def _socket_timeout(self) -> Optional[float]:
        # The listening socket's own timeout, which handle_request() also honours.
        return None

    def _handle_request_noblock(self) -> None:
        # Called when the socket is readable: get_request() should not block.
        try:
            request, client_address = self.get_request()
        except OSError as exc:
            self._accept_failed(exc)
            return
        if self._accept_backoff:
            self._accept_backoff = 0.0
            _log("info", "accepting requests again")
        if not self.verify_request(request, client_address):
            self.shutdown_request(request)
            return
        try:
            self.process_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
            self.shutdown_request(request)
        except BaseException:
            self.shutdown_request(request)
            raise

    def _accept_failed(self, exc: OSError) -> None:
        # An exhausted resource starts or lengthens a back-off (one WARNING per episode);
        # an unusable socket stops serve_forever() rather than spin on it; any other
        # error (a client that reset before accept) is ignored, as socketserver does.
        if exc.errno in _EXHAUSTION_ERRNOS:
            self._accept_backoff = _next_accept_backoff(self._accept_backoff, exc)
            self._accept_resume_at = time.monotonic() + self._accept_backoff
        elif (
            exc.errno in _UNUSABLE_ERRNOS
            and self._serving_thread == threading.get_ident()
            and not self._shutdown_requested
        ):
            raise OSError(
                exc.errno,
                f"serve_forever() stopped: the server socket cannot accept "
                f"({exc.strerror}; closed or not listening?)",
                self.server_address,
            ) from exc

    # -- override points ----------------------------------------------------------------

    def fileno(self) -> int:
        """Return the file descriptor the server waits on (the listening socket)."""
        raise NotImplementedError(f"{type(self).__name__} must define fileno()")

    def get_request(self) -> Tuple[Any, Any]:
        """Accept a request; return ``(request, client_address)``."""
        raise NotImplementedError(f"{type(self).__name__} must define get_request()")

    def server_activate(self) -> None:
        """Called by the constructor to activate the server; ``BaseServer``'s has nothing to do."""

    def handle_timeout(self) -> None:
        """Called when :meth:`handle_request` times out; does nothing by default."""

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Return whether to process the request; a refused one is still shut down."""
        return True

    def process_request(self, request: Any, client_address: Any) -> None:
        """Handle one request: :meth:`finish_request`, then :meth:`shutdown_request`.

        The mix-ins override this to run the request in a thread or process.
        """
        self.finish_request(request, client_address)
        self.shutdown_request(request)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Instantiate ``RequestHandlerClass``, which processes the request."""
        self.RequestHandlerClass(request, client_address, self)

    def shutdown_request(self, request: Any) -> None:
        """End a request; by default this only calls :meth:`close_request`."""
        self.close_request(request)

    def close_request(self, request: Any) -> None:
        """Release a request's resources; does nothing by default."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Report an exception raised while processing a request; the loop goes on.

        Called from an ``except Exception`` block. Logs the traceback through the
        ``netserve`` logger at ERROR level; with logging not configured, Python's
        last-resort handler still prints it to stderr. With :attr:`log_errors`
        false, prints it to ``sys.stderr`` between two dashed lines instead, as
        ``socketserver`` does, for code that captures stderr.
        """
        if self.log_errors:
            _logger().error(
                "exception while processing request from %r", client_address, exc_info=True
            )
            return
        import traceback

        rule = "-" * 40
        print(rule, file=sys.stderr)
        print(
            f"Exception occurred during processing of request from {client_address}",
            file=sys.stderr,
        )
        traceback.print_exc()
        print(rule, file=sys.stderr)

    def server_close(self) -> None:
        """Clean up the server; does nothing in ``BaseServer``."""

    def __enter__(self: _ServerT) -> _ServerT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server_close()
