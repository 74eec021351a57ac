"""The ready-made combinations of a concurrency mix-in and a server class."""

from __future__ import annotations

import os
import socket

from ._mixins import ForkingMixIn, ThreadingMixIn, ThreadPoolMixIn
from ._servers import TCPServer, UDPServer

__all__ = [
    "ThreadPoolTCPServer",
    "ThreadPoolUDPServer",
    "ThreadingTCPServer",
    "ThreadingUDPServer",
]


class ThreadingTCPServer(ThreadingMixIn, TCPServer):
    """A :class:`TCPServer` that handles each connection in a new thread.

    Example:
        >>> import netserve, socket
        >>> class Upper(netserve.BaseRequestHandler):
        ...     def handle(self):
        ...         self.request.sendall(self.request.recv(1024).upper())
        >>> with netserve.ThreadingTCPServer(("127.0.0.1", 0), Upper) as server:
        ...     with socket.create_connection(server.server_address, timeout=10) as conn:
        ...         conn.sendall(b"hi")
        ...         server.handle_request()  # the handler runs in a new thread
        ...         conn.recv(1024)
        b'HI'
    """


class ThreadingUDPServer(ThreadingMixIn, UDPServer):
    """A :class:`UDPServer` that handles each packet in a new thread.

    Example:
        >>> import netserve, socket
        >>> class Upper(netserve.DatagramRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(self.rfile.read().upper())
        >>> with netserve.ThreadingUDPServer(("127.0.0.1", 0), Upper) as server:
        ...     with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        ...         client.settimeout(10)
        ...         _ = client.sendto(b"hi", server.server_address)
        ...         server.handle_request()  # the handler runs in a new thread
        ...         client.recv(1024)
        b'HI'
    """


class ThreadPoolTCPServer(ThreadPoolMixIn, TCPServer):
    """A :class:`TCPServer` that handles connections on a bounded thread pool.

    Example:
        >>> import netserve, socket
        >>> class Upper(netserve.BaseRequestHandler):
        ...     def handle(self):
        ...         self.request.sendall(self.request.recv(1024).upper())
        >>> with netserve.ThreadPoolTCPServer(("127.0.0.1", 0), Upper) as server:
        ...     with socket.create_connection(server.server_address, timeout=10) as conn:
        ...         conn.sendall(b"hi")
        ...         server.handle_request()  # the handler runs on a pool thread
        ...         conn.recv(1024)
        b'HI'
    """


class ThreadPoolUDPServer(ThreadPoolMixIn, UDPServer):
    """A :class:`UDPServer` that handles packets on a bounded thread pool.

    Example:
        >>> import netserve, socket
        >>> class Upper(netserve.DatagramRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(self.rfile.read().upper())
        >>> with netserve.ThreadPoolUDPServer(("127.0.0.1", 0), Upper) as server:
        ...     with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        ...         client.settimeout(10)
        ...         _ = client.sendto(b"hi", server.server_address)
        ...         server.handle_request()  # the handler runs on a pool thread
        ...         client.recv(1024)
        b'HI'
    """


if hasattr(os, "fork"):
    __all__ += ["ForkingTCPServer", "ForkingUDPServer"]

    class ForkingTCPServer(ForkingMixIn, TCPServer):
        """A :class:`TCPServer` that handles each connection in a forked child.

        Example:
            >>> import netserve, socket
            >>> class Upper(netserve.BaseRequestHandler):
            ...     def handle(self):
            ...         self.request.sendall(self.request.recv(1024).upper())
            >>> with netserve.ForkingTCPServer(("127.0.0.1", 0), Upper) as server:
            ...     with socket.create_connection(server.server_address, timeout=10) as conn:
            ...         conn.sendall(b"hi")
            ...         server.handle_request()  # the handler runs in a forked child
            ...         conn.recv(1024)
            b'HI'
        """

    class ForkingUDPServer(ForkingMixIn, UDPServer):
        """A :class:`UDPServer` that handles each packet in a forked child.

        Example:
            >>> import netserve, socket
            >>> class Upper(netserve.DatagramRequestHandler):
            ...     def handle(self):
            ...         self.wfile.write(self.rfile.read().upper())
            >>> with netserve.ForkingUDPServer(("127.0.0.1", 0), Upper) as server:
            ...     with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            ...         client.settimeout(10)
            ...         _ = client.sendto(b"hi", server.server_address)
            ...         server.handle_request()  # the handler runs in a forked child
            ...         client.recv(1024)
            b'HI'
        """


if hasattr(socket, "AF_UNIX"):
    from ._servers import UnixDatagramServer, UnixStreamServer

    __all__ += [
        "ThreadPoolUnixDatagramServer",
        "ThreadPoolUnixStreamServer",
        "ThreadingUnixDatagramServer",
        "ThreadingUnixStreamServer",
    ]

    class ThreadingUnixStreamServer(ThreadingMixIn, UnixStreamServer):
        """A :class:`UnixStreamServer` that handles each connection in a new thread.

        Example:
            >>> import netserve, os, socket, tempfile
            >>> class Upper(netserve.BaseRequestHandler):
            ...     def handle(self):
            ...         self.request.sendall(self.request.recv(1024).upper())
            >>> tmp = tempfile.TemporaryDirectory()
            >>> path = os.path.join(tmp.name, "s")
            >>> with netserve.ThreadingUnixStreamServer(path, Upper) as server:
            ...     with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            ...         conn.settimeout(10)
            ...         conn.connect(path)
            ...         conn.sendall(b"hi")
            ...         server.handle_request()  # the handler runs in a new thread
            ...         conn.recv(1024)
            b'HI'
            >>> tmp.cleanup()
        """

    class ThreadingUnixDatagramServer(ThreadingMixIn, UnixDatagramServer):
        """A :class:`UnixDatagramServer` that handles each packet in a new thread.

        Example:
            >>> import netserve, os, socket, tempfile
            >>> class Upper(netserve.DatagramRequestHandler):
            ...     def handle(self):
            ...         self.wfile.write(self.rfile.read().upper())
            >>> tmp = tempfile.TemporaryDirectory()
            >>> path = os.path.join(tmp.name, "s")
            >>> with netserve.ThreadingUnixDatagramServer(path, Upper) as server:
            ...     with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
            ...         client.settimeout(10)
            ...         client.bind(os.path.join(tmp.name, "c"))  # where the reply goes
            ...         _ = client.sendto(b"hi", path)
            ...         server.handle_request()  # the handler runs in a new thread
            ...         client.recv(1024)
            b'HI'
            >>> tmp.cleanup()
        """

    class ThreadPoolUnixStreamServer(ThreadPoolMixIn, UnixStreamServer):
        """A :class:`UnixStreamServer` that handles connections on a bounded thread pool.

        Example:
            >>> import netserve, os, socket, tempfile
            >>> class Upper(netserve.BaseRequestHandler):
            ...     def handle(self):
            ...         self.request.sendall(self.request.recv(1024).upper())
            >>> tmp = tempfile.TemporaryDirectory()
            >>> path = os.path.join(tmp.name, "s")
            >>> with netserve.ThreadPoolUnixStreamServer(path, Upper) as server:
            ...     with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            ...         conn.settimeout(10)
            ...         conn.connect(path)
            ...         conn.sendall(b"hi")
            ...         server.handle_request()  # the handler runs on a pool thread
            ...         conn.recv(1024)
            b'HI'
            >>> tmp.cleanup()
        """

    class ThreadPoolUnixDatagramServer(ThreadPoolMixIn, UnixDatagramServer):
        """A :class:`UnixDatagramServer` that handles packets on a bounded thread pool.

        Example:
            >>> import netserve, os, socket, tempfile
            >>> class Upper(netserve.DatagramRequestHandler):
            ...     def handle(self):
            ...         self.wfile.write(self.rfile.read().upper())
            >>> tmp = tempfile.TemporaryDirectory()
            >>> path = os.path.join(tmp.name, "s")
            >>> with netserve.ThreadPoolUnixDatagramServer(path, Upper) as server:
            ...     with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
            ...         client.settimeout(10)
            ...         client.bind(os.path.join(tmp.name, "c"))  # where the reply goes
            ...         _ = client.sendto(b"hi", path)
            ...         server.handle_request()  # the handler runs on a pool thread
            ...         client.recv(1024)
            b'HI'
            >>> tmp.cleanup()
        """

    if hasattr(os, "fork"):
        __all__ += ["ForkingUnixDatagramServer", "ForkingUnixStreamServer"]

        class ForkingUnixStreamServer(ForkingMixIn, UnixStreamServer):
            """A :class:`UnixStreamServer` that handles each connection in a forked child.

            Example:
                >>> import netserve, os, socket, tempfile
                >>> class Upper(netserve.BaseRequestHandler):
                ...     def handle(self):
                ...         self.request.sendall(self.request.recv(1024).upper())
                >>> tmp = tempfile.TemporaryDirectory()
                >>> path = os.path.join(tmp.name, "s")
                >>> with netserve.ForkingUnixStreamServer(path, Upper) as server:
                ...     with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                ...         conn.settimeout(10)
                ...         conn.connect(path)
                ...         conn.sendall(b"hi")
                ...         server.handle_request()  # the handler runs in a forked child
                ...         conn.recv(1024)
                b'HI'
                >>> tmp.cleanup()
            """

        class ForkingUnixDatagramServer(ForkingMixIn, UnixDatagramServer):
            """A :class:`UnixDatagramServer` that handles each packet in a forked child.

            Example:
                >>> import netserve, os, socket, tempfile
                >>> class Upper(netserve.DatagramRequestHandler):
                ...     def handle(self):
                ...         self.wfile.write(self.rfile.read().upper())
                >>> tmp = tempfile.TemporaryDirectory()
                >>> path = os.path.join(tmp.name, "s")
                >>> with netserve.ForkingUnixDatagramServer(path, Upper) as server:
                ...     with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
                ...         client.settimeout(10)
                ...         client.bind(os.path.join(tmp.name, "c"))  # where the reply goes
                ...         _ = client.sendto(b"hi", path)
                ...         server.handle_request()  # the handler runs in a forked child
                ...         client.recv(1024)
                b'HI'
                >>> tmp.cleanup()
            """
