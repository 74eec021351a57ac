"""The server classes: :class:`BaseServer` and its four socket servers.

The template-method contract of ``socketserver`` is kept as is (see the
docstring of :class:`BaseServer`). What changes is how ``serve_forever()``
waits: on the listening socket *and* a wake-up pipe, so ``shutdown()``
returns as soon as the loop has noticed, not after ``poll_interval``.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import sys
import threading
import time

from ._address import check_server_address, describe_bind_error
from ._errors import ShutdownDeadlockError

# Names for type checkers only: importing typing and logging at run time would double
# the cost of ``import netserve`` (mypy treats any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import Any, Callable, Optional, Tuple, TypeVar

    #: What a server calls to handle one request: any ``(request, client_address, server)``
    #: callable, so handler classes written for the stdlib's ``socketserver`` work too.
    HandlerFactory = Callable[[Any, Any, Any], Any]

    _ServerT = TypeVar("_ServerT", bound="BaseServer")

__all__ = ["BaseServer", "TCPServer", "UDPServer", "UnixDatagramServer", "UnixStreamServer"]


def _logger() -> logging.Logger:
    # logging is imported on first use: most servers never log anything.
    import logging

    return logging.getLogger("netserve")


def _log(level: str, message: str, *args: object) -> None:
    # Logs through the "netserve" logger, at the level named ("warning", "info"). When
    # logging cannot be imported because no file descriptor is left (accept() failing
    # with EMFILE before anything imported logging), the line goes to stderr instead.
    try:
        logger = _logger()
    except (ImportError, OSError):
        print(f"netserve: {level.upper()}: {message % args}", file=sys.stderr)
        return
    getattr(logger, level)(message, *args)


# poll() scales better than select() and has no FD_SETSIZE limit. Code written for
# socketserver replaces it (``socketserver._ServerSelector = ...``, e.g. under eventlet):
# the loops read it from the package at each start, so such a patch takes effect.
if hasattr(selectors, "PollSelector"):
    _ServerSelector: type[selectors.BaseSelector] = selectors.PollSelector
else:  # pragma: no cover - platforms without poll()
    _ServerSelector = selectors.SelectSelector


def _new_selector() -> selectors.BaseSelector:
    selector_class = getattr(sys.modules.get(__package__ or ""), "_ServerSelector", None)
    return (selector_class or _ServerSelector)()


#: accept() errors that mean a resource ran out: the loop backs off instead of spinning.
_EXHAUSTION_ERRNOS = frozenset(
    code
    for code in (
        getattr(errno, "EMFILE", None),
        getattr(errno, "ENFILE", None),
        getattr(errno, "ENOBUFS", None),
        getattr(errno, "ENOMEM", None),
    )
    if code is not None
)
#: accept() errors that mean the socket itself is unusable (closed, never listening).
_UNUSABLE_ERRNOS = frozenset((errno.EBADF, errno.EINVAL, errno.ENOTSOCK))
#: The back-off after an exhaustion error doubles from the first to the last, in seconds.
ACCEPT_BACKOFF_FIRST = 0.01
ACCEPT_BACKOFF_LAST = 1.0


class _AlwaysSet:
    # The "not serving" state of a server whose __init__ never ran: shutdown() has
    # nothing to wait for. A server gets its own Event when it starts serving.
    def is_set(self) -> bool:
        return True

    def wait(self, timeout: Optional[float] = None) -> bool:
        return True


class _Wakeup:
    """A self-pipe that wakes ``serve_forever()``; only its creating process writes to it.

    A forked child inherits the pipe: its writes would wake the parent's loop for
    a shutdown the parent never sees, so they are refused, and the loop drains
    whatever arrives so a stray byte cannot make ``select()`` spin.
    """

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._pid = os.getpid()

    def wake(self) -> None:
        if os.getpid() == self._pid:
            try:
                os.write(self._write_fd, b"\0")
            except BlockingIOError:
                pass  # A full pipe means wake-ups are pending already.

    def drain(self) -> None:
        try:
            while os.read(self.read_fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self._write_fd)


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
            if self._accept_backoff:
                self._accept_backoff = min(self._accept_backoff * 2, ACCEPT_BACKOFF_LAST)
            else:
                self._accept_backoff = ACCEPT_BACKOFF_FIRST
                _log(
                    "warning",
                    "accepting a request failed with %s (%s): pausing accepts for %g ms, "
                    "doubling up to %g s, until one succeeds",
                    errno.errorcode.get(exc.errno or 0, exc.errno),
                    exc.strerror,
                    ACCEPT_BACKOFF_FIRST * 1000,
                    ACCEPT_BACKOFF_LAST,
                )
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


class TCPServer(BaseServer):
    """A server on a stream socket: TCP over IPv4 or IPv6, or (in subclasses) Unix.

    Args:
        server_address: ``(host, port)`` for IP; port 0 picks a free port, and
            :attr:`server_address` holds the bound one afterwards. An IPv6
            host (``"::1"``) selects ``AF_INET6`` by itself.
        RequestHandlerClass: Called as ``RequestHandlerClass(request,
            client_address, server)`` for each connection.
        bind_and_activate: Bind and listen at once; if false, call
            :meth:`server_bind` and :meth:`server_activate` yourself.

    Raises:
        AddressTypeError: If the address, host or port has the wrong type.
        AddressError: If the port is out of range or a Unix path is too long.
        OSError: If binding fails (the message names the address); the socket
            is closed before the error propagates.

    Class attributes: ``address_family``, ``socket_type``,
    ``request_queue_size`` (5), ``allow_reuse_address`` (False),
    ``allow_reuse_port`` (False; only applied to IP families),
    ``remove_socket_file`` (True: ``server_close()`` of a Unix server removes
    the socket file it created; False keeps it, as ``socketserver`` does).

    Example:
        >>> import netserve
        >>> with netserve.TCPServer(("::1", 0), netserve.BaseRequestHandler) as server:
        ...     server.socket.family.name
        'AF_INET6'
    """

    address_family: int = socket.AF_INET
    socket_type: int = socket.SOCK_STREAM
    request_queue_size: int = 5
    allow_reuse_address: bool = False
    allow_reuse_port: bool = False
    remove_socket_file: bool = True
    # Invariant: _socket_file is the (path, device, inode, pid) of a socket file this
    # server created, which server_close() removes; None when there is none.
    _socket_file: Optional[Tuple[Any, int, int, int]] = None

    def __init__(
        self,
        server_address: Any,
        RequestHandlerClass: HandlerFactory,
        bind_and_activate: bool = True,
    ) -> None:
        family, server_address = check_server_address(self.address_family, server_address)
        if family != self.address_family:
            self.address_family = family
        BaseServer.__init__(self, server_address, RequestHandlerClass)
        self._socket_file = None
        self.socket = socket.socket(self.address_family, self.socket_type)
        if bind_and_activate:
            try:
                self.server_bind()
                self.server_activate()
            except BaseException:
                self.server_close()
                raise

    def server_bind(self) -> None:
        """Apply the reuse options, bind the socket and record the bound address."""
        if self.allow_reuse_address and hasattr(socket, "SO_REUSEADDR"):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if (
            self.allow_reuse_port
            and hasattr(socket, "SO_REUSEPORT")
            and self.address_family in (socket.AF_INET, socket.AF_INET6)
        ):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            self.socket.bind(self.server_address)
        except OSError as exc:
            raise describe_bind_error(exc, self.server_address) from exc
        self._remember_socket_file()
        self.server_address = self.socket.getsockname()

    def _remember_socket_file(self) -> None:
        if self.address_family != getattr(socket, "AF_UNIX", None):
            return
        path = self.server_address
        if not path or os.fsencode(path).startswith(b"\0"):
            return  # Autobind or an abstract name: there is no file.
        path = os.path.abspath(path)  # The working directory may change before close.
        try:
            stat = os.stat(path)
        except OSError:
            return
        self._socket_file = (path, stat.st_dev, stat.st_ino, os.getpid())

    def _remove_socket_file(self) -> None:
        # Only the file this server created, from the process that created it:
        # a replaced file, or a forked child's close, must not remove anything.
        if self._socket_file is None:
            return
        path, device, inode, pid = self._socket_file
        self._socket_file = None
        if pid != os.getpid() or not self.remove_socket_file:
            return
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return
        if (stat.st_dev, stat.st_ino) == (device, inode):
            os.unlink(path)

    def server_activate(self) -> None:
        """Listen, with a backlog of :attr:`request_queue_size`."""
        self.socket.listen(self.request_queue_size)

    def server_close(self) -> None:
        """Close the listening socket, and remove the Unix socket file it created.

        If ``serve_forever()`` is running, it is asked to stop (without waiting),
        since it has nothing left to wait on.
        """
        if self._serving_thread is not None:
            self.request_shutdown()
        self.socket.close()
        self._remove_socket_file()

    def fileno(self) -> int:
        """Return the listening socket's file descriptor."""
        return self.socket.fileno()

    def _check_can_serve(self) -> None:
        sock = getattr(self, "socket", None)
        if not isinstance(sock, socket.socket):
            return  # Replaced by the caller: nothing to check.
        if sock.fileno() == -1:
            raise OSError(
                errno.EBADF, "cannot serve: the server socket is closed", self.server_address
            )
        if sock.type != socket.SOCK_STREAM:
            return
        try:
            listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except (OSError, AttributeError):
            return  # The platform cannot tell.
        if not listening:
            raise OSError(
                errno.EINVAL,
                "cannot serve: the server socket is not listening "
                "(bind_and_activate=False needs server_bind() and server_activate())",
                self.server_address,
            )

    def _socket_timeout(self) -> Optional[float]:
        return self.socket.gettimeout()

    def get_request(self) -> Tuple[Any, Any]:
        """Accept a connection; return ``(connection, client_address)``."""
        return self.socket.accept()

    def shutdown_request(self, request: Any) -> None:
        """Shut down the connection's write side so the client sees EOF, then close it."""
        try:
            request.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # The client may have closed or reset the connection already.
        self.close_request(request)

    def close_request(self, request: Any) -> None:
        """Close the connection."""
        request.close()


class UDPServer(TCPServer):
    """A server on a datagram socket: each packet is one request.

    The request is ``(data, server_socket)``; packets longer than
    :attr:`max_packet_size` (8192) are truncated, as ``recvfrom`` does.
    Arguments as for :class:`TCPServer`.

    Example:
        >>> import netserve, socket
        >>> class Upper(netserve.BaseRequestHandler):
        ...     def handle(self):
        ...         data, sock = self.request
        ...         sock.sendto(data.upper(), self.client_address)
        >>> with netserve.UDPServer(("127.0.0.1", 0), Upper) as server:
        ...     with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        ...         _ = client.sendto(b"hi", server.server_address)
        ...         server.handle_request()
        ...         client.recv(1024)
        b'HI'
    """

    socket_type = socket.SOCK_DGRAM
    max_packet_size: int = 8192

    def get_request(self) -> Tuple[Any, Any]:
        """Receive one packet; return ``((data, server_socket), client_address)``."""
        data, client_address = self.socket.recvfrom(self.max_packet_size)
        return (data, self.socket), client_address

    def server_activate(self) -> None:
        """Datagram sockets do not listen: nothing to do."""

    def shutdown_request(self, request: Any) -> None:
        """A datagram request holds no connection: only :meth:`close_request` runs."""
        self.close_request(request)

    def close_request(self, request: Any) -> None:
        """The request shares the server's socket, which stays open: nothing to close."""


if hasattr(socket, "AF_UNIX"):

    class UnixStreamServer(TCPServer):
        """A :class:`TCPServer` on a Unix stream socket.

        The address is a filesystem path (``str``, ``bytes`` or path-like, at
        most 107 bytes on Linux) or, on Linux, an abstract name starting with
        a NUL byte. ``server_close()`` removes the socket file the server
        created, and never a file it did not create; set the class attribute
        ``remove_socket_file = False`` to keep it, as ``socketserver`` does.

        Example:
            >>> import netserve, os, tempfile
            >>> tmp = tempfile.TemporaryDirectory()
            >>> path = os.path.join(tmp.name, "s")
            >>> with netserve.UnixStreamServer(path, netserve.BaseRequestHandler) as server:
            ...     os.path.exists(path)
            True
            >>> os.path.exists(path)
            False
            >>> tmp.cleanup()
        """

        address_family = socket.AF_UNIX

    class UnixDatagramServer(UDPServer):
        """A :class:`UDPServer` on a Unix datagram socket; addresses as for Unix stream.

        Example:
            >>> import netserve, os
            >>> name = f"\\0netserve-doc-{os.getpid()}"  # a Linux abstract name: no file
            >>> with netserve.UnixDatagramServer(name, netserve.BaseRequestHandler) as server:
            ...     server.server_address == os.fsencode(name)
            True
        """

        address_family = socket.AF_UNIX
