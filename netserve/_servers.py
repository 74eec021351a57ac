"""The server classes: :class:`BaseServer` and its four socket servers.

The template-method contract of ``socketserver`` is kept as is (see the
docstring of :class:`BaseServer`). What changes is how ``serve_forever()``
waits: on the listening socket *and* a wake-up pipe, so ``shutdown()``
returns as soon as the loop has noticed, not after ``poll_interval``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import threading
import time
from typing import Any, Callable, Optional, Tuple, TypeVar

from ._address import check_server_address, describe_bind_error
from ._errors import ShutdownDeadlockError

__all__ = ["BaseServer", "TCPServer", "UDPServer", "UnixDatagramServer", "UnixStreamServer"]

logger = logging.getLogger("netserve")

#: What a server calls to handle one request: any ``(request, client_address, server)``
#: callable, so handler classes written for the stdlib's ``socketserver`` work too.
HandlerFactory = Callable[[Any, Any, Any], Any]

_ServerT = TypeVar("_ServerT", bound="BaseServer")

# poll() scales better than select() and has no FD_SETSIZE limit.
_Selector: Callable[[], selectors.BaseSelector] = getattr(
    selectors, "PollSelector", selectors.SelectSelector
)


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
            # A full pipe means wake-ups are pending already.
            with contextlib.suppress(BlockingIOError):
                os.write(self._write_fd, b"\0")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.read_fd, 4096):
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
    request before calling ``handle_timeout()``; ``None`` waits forever).

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

    def __init__(self, server_address: Any, RequestHandlerClass: HandlerFactory) -> None:
        """Store the address and the handler class; subclasses create the socket."""
        self.server_address: Any = server_address
        self.RequestHandlerClass = RequestHandlerClass
        # Invariant: _serving_thread is not None exactly while serve_forever() runs, and
        # _wakeup is then its open wake-up channel (else None). Both change under
        # _state_lock, which is re-entrant because request_shutdown() may run in a signal
        # handler that interrupts the serving thread inside one of these sections.
        self._state_lock = threading.RLock()
        self._serving_thread: Optional[int] = None
        self._wakeup: Optional[_Wakeup] = None
        self._shutdown_requested = False
        self._stopped = threading.Event()
        self._stopped.set()

    # -- the request loop ---------------------------------------------------------------

    def serve_forever(self, poll_interval: Optional[float] = 0.5) -> None:
        """Handle requests until :meth:`shutdown` or :meth:`request_shutdown` is called.

        Args:
            poll_interval: How often, in seconds, :meth:`service_actions` runs
                when no request arrives. It does not delay ``shutdown()``.

        Raises:
            RuntimeError: If ``serve_forever()`` is already running on this server.
        """
        try:
            wakeup = self._start_serving()
            if wakeup is None:
                return
            with _Selector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(wakeup.read_fd, selectors.EVENT_READ)
                while not self._shutdown_requested:
                    ready = selector.select(poll_interval)
                    # shutdown() during select() wins over a request that arrived with it.
                    if self._shutdown_requested:
                        break
                    for key, _ in ready:
                        if key.fileobj is self:
                            self._handle_request_noblock()
                        else:
                            wakeup.drain()
                    self.service_actions()
        finally:
            self._stop_serving()

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
            self._stopped.clear()
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
            self._stopped.set()

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
        handler) it only affects the child's copy of the server.

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
        self._stopped.wait()

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
        with _Selector() as selector:
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
        except OSError:
            return
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
        last-resort handler still prints it to stderr.
        """
        logger.error("exception while processing request from %r", client_address, exc_info=True)

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
    ``allow_reuse_port`` (False; only applied to IP families).

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
        # Invariant: _socket_file is the (path, device, inode) of a socket file this
        # server created, which server_close() removes; None when there is none.
        self._socket_file: Optional[Tuple[Any, int, int, int]] = None
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
        if pid != os.getpid():
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

    def _socket_timeout(self) -> Optional[float]:
        return self.socket.gettimeout()

    def get_request(self) -> Tuple[Any, Any]:
        """Accept a connection; return ``(connection, client_address)``."""
        return self.socket.accept()

    def shutdown_request(self, request: Any) -> None:
        """Shut down the connection's write side so the client sees EOF, then close it."""
        # The client may have closed or reset the connection already.
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_WR)
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
        created, and never a file it did not create.

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
