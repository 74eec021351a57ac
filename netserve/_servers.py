"""The socket servers: :class:`TCPServer`, :class:`UDPServer` and their Unix forms.

Each creates, binds and listens on its socket and hands ``BaseServer``'s loop
(``_base``) a request at a time: a connection, or a datagram with the socket.
"""

from __future__ import annotations

import errno
import os
import socket

from ._address import check_server_address, describe_bind_error
from ._base import BaseServer

# Names for type checkers only: importing typing at run time would double the cost of
# ``import netserve`` (mypy treats any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Tuple

    from ._base import HandlerFactory

__all__ = ["TCPServer", "UDPServer", "UnixDatagramServer", "UnixStreamServer"]


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
        since it has nothing left to wait on. A server whose ``__init__`` was
        skipped has no socket: then there is none to close.
        """
        if self._serving_thread is not None:
            self.request_shutdown()
        sock = getattr(self, "socket", None)
        if sock is not None:
            sock.close()
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
