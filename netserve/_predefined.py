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
    """A :class:`TCPServer` that handles each connection in a new thread."""


class ThreadingUDPServer(ThreadingMixIn, UDPServer):
    """A :class:`UDPServer` that handles each packet in a new thread."""


class ThreadPoolTCPServer(ThreadPoolMixIn, TCPServer):
    """A :class:`TCPServer` that handles connections on a bounded thread pool."""


class ThreadPoolUDPServer(ThreadPoolMixIn, UDPServer):
    """A :class:`UDPServer` that handles packets on a bounded thread pool."""


if hasattr(os, "fork"):
    __all__ += ["ForkingTCPServer", "ForkingUDPServer"]

    class ForkingTCPServer(ForkingMixIn, TCPServer):
        """A :class:`TCPServer` that handles each connection in a forked child."""

    class ForkingUDPServer(ForkingMixIn, UDPServer):
        """A :class:`UDPServer` that handles each packet in a forked child."""


if hasattr(socket, "AF_UNIX"):
    from ._servers import UnixDatagramServer, UnixStreamServer

    __all__ += [
        "ThreadPoolUnixDatagramServer",
        "ThreadPoolUnixStreamServer",
        "ThreadingUnixDatagramServer",
        "ThreadingUnixStreamServer",
    ]

    class ThreadingUnixStreamServer(ThreadingMixIn, UnixStreamServer):
        """A :class:`UnixStreamServer` that handles each connection in a new thread."""

    class ThreadingUnixDatagramServer(ThreadingMixIn, UnixDatagramServer):
        """A :class:`UnixDatagramServer` that handles each packet in a new thread."""

    class ThreadPoolUnixStreamServer(ThreadPoolMixIn, UnixStreamServer):
        """A :class:`UnixStreamServer` that handles connections on a bounded thread pool."""

    class ThreadPoolUnixDatagramServer(ThreadPoolMixIn, UnixDatagramServer):
        """A :class:`UnixDatagramServer` that handles packets on a bounded thread pool."""

    if hasattr(os, "fork"):
        __all__ += ["ForkingUnixDatagramServer", "ForkingUnixStreamServer"]

        class ForkingUnixStreamServer(ForkingMixIn, UnixStreamServer):
            """A :class:`UnixStreamServer` that handles each connection in a forked child."""

        class ForkingUnixDatagramServer(ForkingMixIn, UnixDatagramServer):
            """A :class:`UnixDatagramServer` that handles each packet in a forked child."""
