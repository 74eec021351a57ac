"""The ready-made combinations of a concurrency mix-in and a server class.

Each is ``class XServer(MixIn, Server)`` with nothing added; the mix-in comes
first because it overrides ``process_request`` and ``server_close``.
"""

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
        >>> import netserve
        >>> with netserve.ThreadingTCPServer(("127.0.0.1", 0), netserve.StreamRequestHandler) as s:
        ...     s.daemon_threads, s.block_on_close
        (False, True)
    """


class ThreadingUDPServer(ThreadingMixIn, UDPServer):
    """A :class:`UDPServer` that handles each packet in a new thread.

    Example:
        >>> import netserve
        >>> Handler = netserve.DatagramRequestHandler
        >>> with netserve.ThreadingUDPServer(("127.0.0.1", 0), Handler) as server:
        ...     server.max_packet_size
        8192
    """


class ThreadPoolTCPServer(ThreadPoolMixIn, TCPServer):
    """A :class:`TCPServer` that handles connections on a bounded thread pool.

    Example:
        >>> import netserve
        >>> class Server(netserve.ThreadPoolTCPServer):
        ...     max_workers = 8
        >>> with Server(("127.0.0.1", 0), netserve.StreamRequestHandler) as server:
        ...     server.max_workers
        8
    """


class ThreadPoolUDPServer(ThreadPoolMixIn, UDPServer):
    """A :class:`UDPServer` that handles packets on a bounded thread pool.

    Example:
        >>> import netserve
        >>> Handler = netserve.DatagramRequestHandler
        >>> with netserve.ThreadPoolUDPServer(("127.0.0.1", 0), Handler) as server:
        ...     server.max_workers >= 1
        True
    """


if hasattr(os, "fork"):
    __all__ += ["ForkingTCPServer", "ForkingUDPServer"]

    class ForkingTCPServer(ForkingMixIn, TCPServer):
        """A :class:`TCPServer` that handles each connection in a forked child.

        Example:
            >>> import netserve
            >>> Handler = netserve.StreamRequestHandler
            >>> with netserve.ForkingTCPServer(("127.0.0.1", 0), Handler) as server:
            ...     server.max_children, server.active_children
            (40, None)
        """

    class ForkingUDPServer(ForkingMixIn, UDPServer):
        """A :class:`UDPServer` that handles each packet in a forked child.

        Example:
            >>> import netserve
            >>> Handler = netserve.DatagramRequestHandler
            >>> with netserve.ForkingUDPServer(("127.0.0.1", 0), Handler) as server:
            ...     server.timeout
            300
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
            >>> import netserve, os, tempfile
            >>> with tempfile.TemporaryDirectory() as directory:
            ...     path = os.path.join(directory, "threading.sock")
            ...     Handler = netserve.StreamRequestHandler
            ...     with netserve.ThreadingUnixStreamServer(path, Handler) as server:
            ...         server.server_address == path
            True
        """

    class ThreadingUnixDatagramServer(ThreadingMixIn, UnixDatagramServer):
        """A :class:`UnixDatagramServer` that handles each packet in a new thread.

        Example:
            >>> import netserve, os, tempfile
            >>> with tempfile.TemporaryDirectory() as directory:
            ...     path = os.path.join(directory, "threading.sock")
            ...     Handler = netserve.DatagramRequestHandler
            ...     with netserve.ThreadingUnixDatagramServer(path, Handler) as server:
            ...         os.path.exists(path)
            True
        """

    class ThreadPoolUnixStreamServer(ThreadPoolMixIn, UnixStreamServer):
        """A :class:`UnixStreamServer` that handles connections on a bounded thread pool.

        Example:
            >>> import netserve, os, tempfile
            >>> with tempfile.TemporaryDirectory() as directory:
            ...     path = os.path.join(directory, "pool.sock")
            ...     Handler = netserve.StreamRequestHandler
            ...     with netserve.ThreadPoolUnixStreamServer(path, Handler) as server:
            ...         server.max_workers >= 1
            True
        """

    class ThreadPoolUnixDatagramServer(ThreadPoolMixIn, UnixDatagramServer):
        """A :class:`UnixDatagramServer` that handles packets on a bounded thread pool.

        Example:
            >>> import netserve, os, tempfile
            >>> with tempfile.TemporaryDirectory() as directory:
            ...     path = os.path.join(directory, "pool.sock")
            ...     Handler = netserve.DatagramRequestHandler
            ...     with netserve.ThreadPoolUnixDatagramServer(path, Handler) as server:
            ...         server.block_on_close
            True
        """

    if hasattr(os, "fork"):
        __all__ += ["ForkingUnixDatagramServer", "ForkingUnixStreamServer"]

        class ForkingUnixStreamServer(ForkingMixIn, UnixStreamServer):
            """A :class:`UnixStreamServer` that handles each connection in a forked child.

            Example:
                >>> import netserve, os, tempfile
                >>> with tempfile.TemporaryDirectory() as directory:
                ...     path = os.path.join(directory, "forking.sock")
                ...     Handler = netserve.StreamRequestHandler
                ...     with netserve.ForkingUnixStreamServer(path, Handler) as server:
                ...         server.max_children
                40
            """

        class ForkingUnixDatagramServer(ForkingMixIn, UnixDatagramServer):
            """A :class:`UnixDatagramServer` that handles each packet in a forked child.

            Example:
                >>> import netserve, os, tempfile
                >>> with tempfile.TemporaryDirectory() as directory:
                ...     path = os.path.join(directory, "forking.sock")
                ...     Handler = netserve.DatagramRequestHandler
                ...     with netserve.ForkingUnixDatagramServer(path, Handler) as server:
                ...         server.block_on_close
                True
            """
