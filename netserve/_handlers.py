"""Request handler classes: one instance handles one request."""

from __future__ import annotations

import io
import socket

# typing is for type checkers only: importing it would add a third to the cost of
# ``import netserve`` (mypy treats any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Optional

    from _typeshed import ReadableBuffer

__all__ = ["BaseRequestHandler", "DatagramRequestHandler", "StreamRequestHandler"]


class BaseRequestHandler:
    """Handles one request; the constructor runs ``setup()``, ``handle()``, ``finish()``.

    ``finish()`` runs even if ``handle()`` raises, but not if ``setup()`` does.

    Attributes:
        request: The connected socket for stream servers; ``(data, socket)``
            for datagram servers.
        client_address: The client's address.
        server: The server instance, for per-server state.

    Example:
        >>> import netserve
        >>> class Upper(netserve.BaseRequestHandler):
        ...     def handle(self):
        ...         data = self.request.recv(1024).strip()
        ...         self.request.sendall(data.upper())
    """

    def __init__(self, request: Any, client_address: Any, server: Any) -> None:
        self.request = request
        self.client_address = client_address
        self.server = server
        self.setup()
        try:
            self.handle()
        finally:
            self.finish()

    def setup(self) -> None:
        """Called before :meth:`handle`; does nothing by default."""

    def handle(self) -> None:
        """Serve the request; override this. Does nothing by default."""

    def finish(self) -> None:
        """Called after :meth:`handle`, even if it raised; does nothing by default."""


class _SocketWriter(io.BufferedIOBase):
    """An unbuffered binary writer whose ``write()`` sends everything with ``sendall``.

    ``sendall`` resumes after a signal interrupts it (PEP 475), so ``write()``
    always sends the whole buffer and returns its full length.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, b: ReadableBuffer) -> int:
        self._sock.sendall(b)
        with memoryview(b) as view:
            return view.nbytes

    def fileno(self) -> int:
        return self._sock.fileno()


class StreamRequestHandler(BaseRequestHandler):
    """A handler for stream servers with file objects: :attr:`rfile` and :attr:`wfile`.

    Class attributes:
        rbufsize: Buffer size of ``rfile`` (default -1: the io default).
        wbufsize: Buffer size of ``wfile``; 0 (default) makes it unbuffered:
            each ``write()`` sends at once and in full.
        timeout: If not ``None``, the connection's timeout in seconds; a read
            that waits longer raises ``socket.timeout``.
        disable_nagle_algorithm: Set ``TCP_NODELAY`` on the connection.

    Attributes:
        connection: The connected socket (the request).
        rfile: Binary file to read the request from.
        wfile: Binary file to write the response to.

    Example:
        >>> import netserve
        >>> class Upper(netserve.StreamRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(self.rfile.readline().strip().upper())
    """

    rbufsize: int = -1
    wbufsize: int = 0
    timeout: Optional[float] = None
    disable_nagle_algorithm: bool = False

    connection: socket.socket
    rfile: BinaryIO
    wfile: BinaryIO

    def setup(self) -> None:
        """Apply the timeout and Nagle options and open :attr:`rfile` and :attr:`wfile`."""
        self.connection = self.request
        if self.timeout is not None:
            self.connection.settimeout(self.timeout)
        if self.disable_nagle_algorithm:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.rfile = self.connection.makefile("rb", self.rbufsize)  # type: ignore[assignment]
        if self.wbufsize == 0:
            self.wfile = _SocketWriter(self.connection)  # type: ignore[assignment]
        else:
            self.wfile = self.connection.makefile("wb", self.wbufsize)  # type: ignore[assignment]

    def finish(self) -> None:
        """Flush :attr:`wfile` and close both files (the server closes the socket)."""
        if not self.wfile.closed:
            try:
                self.wfile.flush()
            except OSError as exc:
                # The client went away: what was left cannot be delivered.
                import logging

                logging.getLogger("netserve").debug(
                    "could not flush the reply to %r: %s", self.client_address, exc
                )
        self.wfile.close()
        self.rfile.close()


class DatagramRequestHandler(BaseRequestHandler):
    """A handler for datagram servers with file objects over the packet.

    :attr:`rfile` reads the received packet; what ``handle()`` writes to
    :attr:`wfile` is sent back to the client as one datagram in ``finish()``.

    Attributes:
        packet: The received data.
        socket: The server's socket, to reply with ``sendto``.
        rfile: ``io.BytesIO`` over the packet.
        wfile: ``io.BytesIO`` collecting the reply.

    Example:
        >>> import netserve
        >>> class Upper(netserve.DatagramRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(self.rfile.read().upper())
    """

    packet: bytes
    socket: socket.socket
    rfile: io.BytesIO
    wfile: io.BytesIO

    def setup(self) -> None:
        """Unpack the request and open the in-memory files."""
        self.packet, self.socket = self.request
        self.rfile = io.BytesIO(self.packet)
        self.wfile = io.BytesIO()

    def finish(self) -> None:
        """Send what was written to :attr:`wfile` back to the client as one datagram."""
        self.socket.sendto(self.wfile.getvalue(), self.client_address)
