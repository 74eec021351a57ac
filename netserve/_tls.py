"""TLS for stream servers: :class:`TLSMixIn` and the predefined TLS TCP servers.

The handshake runs where the request runs (its thread, its pool worker, its forked child;
for a synchronous server, inside request processing), bounded by
:attr:`TLSMixIn.handshake_timeout`, and never in ``accept()``. Wrapping the listening
socket (``context.wrap_socket(server.socket, server_side=True)``) does the opposite: every
handshake then runs on the serving thread, and one client that connects and sends nothing
stops the server from accepting anyone else.
"""

from __future__ import annotations

import os
import socket
import threading

from ._errors import NetserveError
from ._loop import _log
from ._mixins import ForkingMixIn, ThreadingMixIn, ThreadPoolMixIn
from ._servers import TCPServer

# Names for type checkers only: ``import netserve`` imports nothing that ``import
# socketserver`` does not; ssl is imported when a server first checks its context.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from typing import Any, Dict, Optional

__all__ = [
    "TLSConfigError",
    "TLSMixIn",
    "TLSTCPServer",
    "ThreadPoolTLSTCPServer",
    "ThreadingTLSTCPServer",
]

#: Seconds a client has to complete the TLS handshake, unless the server says otherwise.
DEFAULT_HANDSHAKE_TIMEOUT = 10.0


class TLSConfigError(NetserveError, ValueError):
    """A TLS server's ``ssl_context`` or ``handshake_timeout`` is missing or unusable.

    Raised when serving starts (``serve_forever()``, ``handle_request()``), or at
    construction for a value that is already wrong then.

    Example:
        >>> import netserve
        >>> server = netserve.TLSTCPServer(("127.0.0.1", 0), netserve.StreamRequestHandler)
        >>> try:
        ...     server.handle_request()
        ... except netserve.TLSConfigError as exc:
        ...     print(exc)
        ssl_context is not set on TLSTCPServer: give it an ssl.SSLContext made with ssl.PROTOCOL_TLS_SERVER
        >>> server.server_close()
    """  # noqa: E501


def _describe(value: object) -> str:
    return f"{type(value).__name__}: {value!r}"


class TLSMixIn:
    """Serve TLS on a stream server, with the handshake in the request's own thread or child.

    Combine it with :class:`~netserve.TCPServer` or :class:`~netserve.UnixStreamServer`
    and any concurrency mix-in, which comes first:
    ``class Server(ThreadingMixIn, TLSMixIn, TCPServer)``. The handshake never runs in
    ``accept()``: it runs in ``finish_request()``, so in the request's thread (threading),
    pool worker (thread pool) or child (forking), and for a synchronous server inside
    request processing, where :attr:`handshake_timeout` bounds how long a silent client
    holds the loop.

    The handler's ``self.request`` is the :class:`ssl.SSLSocket`, so
    ``StreamRequestHandler`` and ``http.server`` handlers work unchanged, and
    ``self.request.getpeercert()`` shows a client certificate when the context asks for one.
    A handshake that fails or times out is not a handler error: it goes to
    :meth:`handle_handshake_error`, which logs it, and the connection is closed.

    The hooks ``shutdown_request(request)`` and ``close_request(request)`` still receive
    the accepted plain socket; they end its TLS connection in its place.

    Attributes:
        ssl_context: The server-side :class:`ssl.SSLContext` (made with
            ``ssl.PROTOCOL_TLS_SERVER``, certificate loaded). Set it as a class attribute,
            with the ``ssl_context=`` keyword of the constructor, or on the server before
            serving; serving without one raises :class:`TLSConfigError`.
        handshake_timeout: Seconds a client has to complete the handshake; default 10.
            ``None`` waits forever (a silent client then holds its thread, worker or child,
            and a synchronous server, for good).
        tcp_nodelay: Set ``TCP_NODELAY`` on each accepted TCP connection before the
            handshake; default ``True``. TLS writes whole records, and with Nagle's
            algorithm a small reply that follows the server's TLS 1.3 session tickets
            waits for the client's delayed ACK: about 40 ms a round trip. ``False``
            keeps the system's default.

    Raises:
        TypeError: At construction, on a datagram server (TLS needs a stream).
        TLSConfigError: At construction for an ``ssl_context`` of the wrong kind; when
            serving starts for a missing one or a bad ``handshake_timeout``.

    Example:
        >>> import netserve, ssl
        >>> context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        >>> # context.load_cert_chain("server.pem", "server.key")
        >>> class Server(netserve.ThreadingMixIn, netserve.TLSMixIn, netserve.TCPServer):
        ...     handshake_timeout = 5.0
        >>> Handler = netserve.StreamRequestHandler
        >>> with Server(("127.0.0.1", 0), Handler, ssl_context=context) as server:
        ...     server.ssl_context is context, server.handshake_timeout
        (True, 5.0)
    """

    ssl_context: Optional[ssl.SSLContext] = None
    handshake_timeout: Optional[float] = DEFAULT_HANDSHAKE_TIMEOUT
    tcp_nodelay: bool = True

    def __init__(
        self, *args: Any, ssl_context: Optional[ssl.SSLContext] = None, **kwargs: Any
    ) -> None:
        socket_type = getattr(type(self), "socket_type", socket.SOCK_STREAM)
        if socket_type != socket.SOCK_STREAM:
            raise TypeError(f"TLSMixIn needs a stream server, not {type(self).__name__}")
        if ssl_context is not None:
            self.ssl_context = ssl_context
        if self.ssl_context is not None:
            self._check_context(self.ssl_context)
        # Invariant: maps each accepted socket whose handshake has started to its
        # SSLSocket (which took over the file descriptor) until the request is shut down.
        self._tls_lock = threading.Lock()
        self._tls_connections: Dict[Any, ssl.SSLSocket] = {}
        super().__init__(*args, **kwargs)

    # -- checks -------------------------------------------------------------------------

    def _check_context(self, context: object) -> ssl.SSLContext:
        import ssl

        name = type(self).__name__
        if context is None:
            raise TLSConfigError(
                f"ssl_context is not set on {name}: "
                "give it an ssl.SSLContext made with ssl.PROTOCOL_TLS_SERVER"
            )
        if not isinstance(context, ssl.SSLContext):
            raise TLSConfigError(f"ssl_context must be an ssl.SSLContext, not {_describe(context)}")
        if context.protocol == ssl.PROTOCOL_TLS_CLIENT:
            raise TLSConfigError(
                f"ssl_context of {name} is a client context (ssl.PROTOCOL_TLS_CLIENT); "
                "a server needs ssl.PROTOCOL_TLS_SERVER"
            )
        return context

    def _check_tls_settings(self) -> ssl.SSLContext:
        context = self._check_context(self.ssl_context)
        timeout = self.handshake_timeout
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise TLSConfigError(
                f"handshake_timeout must be a positive number of seconds or None, "
                f"not {_describe(timeout)}"
            )
        return context

    def serve_forever(self, poll_interval: Optional[float] = 0.5) -> None:
        """Check the TLS settings, then serve as ``BaseServer.serve_forever()`` does.

        Raises:
            TLSConfigError: If ``ssl_context`` or ``handshake_timeout`` is unusable.
        """
        self._check_tls_settings()
        super().serve_forever(poll_interval)  # type: ignore[misc]

    def handle_request(self) -> None:
        """Check the TLS settings, then handle one request as ``BaseServer`` does.

        Raises:
            TLSConfigError: If ``ssl_context`` or ``handshake_timeout`` is unusable.
        """
        self._check_tls_settings()
        super().handle_request()  # type: ignore[misc]

    # -- the handshake, where the request runs --------------------------------------------

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Complete the TLS handshake, then run the handler with the ``ssl.SSLSocket``.

        A failed or timed-out handshake goes to :meth:`handle_handshake_error` and the
        handler does not run.
        """
        connection = self._handshake(request, client_address)
        if connection is not None:
            super().finish_request(connection, client_address)  # type: ignore[misc]

    def _handshake(self, request: Any, client_address: Any) -> Optional[ssl.SSLSocket]:
        context = self._check_tls_settings()
        timeout = request.gettimeout()
        if self.tcp_nodelay and request.family in (socket.AF_INET, socket.AF_INET6):
            try:
                request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # The client may be gone already: the handshake will say so.
        try:
            connection = context.wrap_socket(
                request, server_side=True, do_handshake_on_connect=False
            )
        except OSError as exc:
            self.handle_handshake_error(request, client_address, exc)
            return None
        with self._tls_lock:
            self._tls_connections[request] = connection
        try:
            connection.settimeout(self.handshake_timeout)
            connection.do_handshake()
            connection.settimeout(timeout)
        except OSError as exc:  # ssl.SSLError, a timeout, a reset: all are OSErrors
            self.handle_handshake_error(connection, client_address, exc)
            return None
        return connection

    def handle_handshake_error(self, request: Any, client_address: Any, exc: OSError) -> None:
        """Called when a client's TLS handshake fails or times out; logs it at INFO.

        A plaintext client, a client that does not trust the certificate, a client
        without a required certificate, one that stays silent past
        :attr:`handshake_timeout`: each is a fact about the client, not a handler error,
        so it is logged through the ``netserve`` logger at INFO level (as a web server
        logs client handshake failures), not passed to ``handle_error()``. Override it to
        count, log louder or record them; the connection is closed after it returns.

        Args:
            request: The connection, an :class:`ssl.SSLSocket` whose handshake did not
                complete (or the plain socket, if it could not even be wrapped).
            client_address: The client's address.
            exc: What the handshake raised: :class:`ssl.SSLError`, ``socket.timeout``
                (``TimeoutError``), ``ConnectionResetError``...
        """
        if isinstance(exc, socket.timeout):
            _log(
                "info",
                "tls handshake with %r timed out after %s s",
                client_address,
                self.handshake_timeout,
            )
        else:
            _log("info", "tls handshake with %r failed: %s", client_address, exc)

    # -- ending the TLS connection in place of the accepted socket ------------------------

    def _take_connection(self, request: Any) -> Any:
        with self._tls_lock:
            return self._tls_connections.pop(request, request)

    def shutdown_request(self, request: Any) -> None:
        """Shut down and close the request's TLS connection (or the plain socket, if none)."""
        super().shutdown_request(self._take_connection(request))  # type: ignore[misc]

    def close_request(self, request: Any) -> None:
        """Close the request's TLS connection (or the plain socket, if none)."""
        super().close_request(self._take_connection(request))  # type: ignore[misc]


class TLSTCPServer(TLSMixIn, TCPServer):
    """A :class:`~netserve.TCPServer` speaking TLS, one request at a time.

    The handshake runs inside request processing, bounded by ``handshake_timeout``:
    a silent client delays the next one by that much at most.

    Example:
        >>> import netserve, ssl
        >>> context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        >>> Handler = netserve.StreamRequestHandler
        >>> with netserve.TLSTCPServer(("127.0.0.1", 0), Handler, ssl_context=context) as s:
        ...     s.handshake_timeout
        10.0
    """


class ThreadingTLSTCPServer(ThreadingMixIn, TLSMixIn, TCPServer):
    """A :class:`~netserve.TCPServer` speaking TLS, each connection (and handshake) in a thread.

    Example:
        >>> import netserve, ssl
        >>> class Server(netserve.ThreadingTLSTCPServer):
        ...     ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        >>> with Server(("127.0.0.1", 0), netserve.StreamRequestHandler) as server:
        ...     server.daemon_threads
        False
    """


class ThreadPoolTLSTCPServer(ThreadPoolMixIn, TLSMixIn, TCPServer):
    """A :class:`~netserve.TCPServer` speaking TLS, connections and handshakes on a thread pool.

    A stalled handshake occupies a worker for up to ``handshake_timeout``; with
    ``max_workers`` silent clients at once, the others wait in the queue.

    Example:
        >>> import netserve, ssl
        >>> class Server(netserve.ThreadPoolTLSTCPServer):
        ...     max_workers = 4
        ...     ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        >>> with Server(("127.0.0.1", 0), netserve.StreamRequestHandler) as server:
        ...     server.max_workers
        4
    """


if hasattr(os, "fork"):
    __all__ += ["ForkingTLSTCPServer"]

    class ForkingTLSTCPServer(ForkingMixIn, TLSMixIn, TCPServer):
        """A :class:`~netserve.TCPServer` speaking TLS, each connection (and handshake) in a child.

        Example:
            >>> import netserve, ssl
            >>> context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            >>> Handler = netserve.StreamRequestHandler
            >>> with netserve.ForkingTLSTCPServer(
            ...     ("127.0.0.1", 0), Handler, ssl_context=context
            ... ) as server:
            ...     server.max_children
            40
        """
