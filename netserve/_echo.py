"""The upper-casing echo handlers that ``python -m netserve`` serves when given no handler.

They are the handlers of the ``socketserver`` documentation's TCP and UDP examples: read one
message, strip the surrounding whitespace, and send it back upper-cased.
"""

from __future__ import annotations

from ._handlers import BaseRequestHandler


class UpperCaseEchoHandler(BaseRequestHandler):
    """Stream handler: reads one message (up to 1024 bytes), replies upper-cased, closes.

    Example:
        >>> import netserve, socket, threading
        >>> with netserve.TCPServer(("127.0.0.1", 0), UpperCaseEchoHandler) as server:
        ...     threading.Thread(target=server.serve_forever).start()
        ...     with socket.create_connection(server.server_address) as sock:
        ...         sock.sendall(b"hello world\\n")
        ...         reply = sock.recv(1024)
        ...     server.shutdown()
        >>> reply
        b'HELLO WORLD'
    """

    def handle(self) -> None:
        """Reply to one message with the same bytes, stripped and upper-cased."""
        data = self.request.recv(1024).strip()
        self.request.sendall(data.upper())


class UpperCaseDatagramEchoHandler(BaseRequestHandler):
    """Datagram handler: replies to each datagram with its bytes stripped and upper-cased.

    The reply goes to the sender's address, so a Unix datagram client must bind its socket
    to a path to receive it (as with the standard library).

    Example:
        >>> import netserve, socket, threading
        >>> with netserve.UDPServer(("127.0.0.1", 0), UpperCaseDatagramEchoHandler) as server:
        ...     threading.Thread(target=server.serve_forever).start()
        ...     with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ...         _ = sock.sendto(b"hello\\n", server.server_address)
        ...         reply = sock.recv(1024)
        ...     server.shutdown()
        >>> reply
        b'HELLO'
    """

    def handle(self) -> None:
        """Send the datagram back to its sender, stripped and upper-cased."""
        data, sock = self.request
        sock.sendto(data.strip().upper(), self.client_address)
