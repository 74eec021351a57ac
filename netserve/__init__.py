"""netserve: a drop-in replacement for :mod:`socketserver` that shuts down at once.

``import netserve as socketserver`` runs existing code unchanged. Beyond the
standard library: ``shutdown()`` returns immediately whatever the
``poll_interval``, ``shutdown()`` from the serving thread raises instead of
hanging (``request_shutdown()`` never waits), addresses are checked with clear
errors and IPv6 needs no subclass, Unix socket files are cleaned up, a bounded
thread pool (:class:`ThreadPoolMixIn`), handler errors go through ``logging``,
and everything is typed.

Example:
    >>> import netserve as socketserver
    >>> class Upper(socketserver.StreamRequestHandler):
    ...     def handle(self):
    ...         self.wfile.write(self.rfile.readline().upper())
    >>> server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Upper)
    >>> server.server_close()
"""

from __future__ import annotations

from ._base import BaseServer
from ._errors import (
    AddressError,
    AddressTypeError,
    NetserveError,
    PortOutOfRangeError,
    ShutdownDeadlockError,
)
from ._handlers import BaseRequestHandler, DatagramRequestHandler, StreamRequestHandler
from ._handlers import _SocketWriter as _SocketWriter
from ._loop import _ServerSelector as _ServerSelector
from ._mixins import ForkingMixIn, ThreadingMixIn, ThreadPoolMixIn
from ._mixins import _NoThreads as _NoThreads
from ._mixins import _Threads as _Threads
from ._predefined import (
    ForkingTCPServer,
    ForkingUDPServer,
    ForkingUnixDatagramServer,
    ForkingUnixStreamServer,
    ThreadingTCPServer,
    ThreadingUDPServer,
    ThreadingUnixDatagramServer,
    ThreadingUnixStreamServer,
    ThreadPoolTCPServer,
    ThreadPoolUDPServer,
    ThreadPoolUnixDatagramServer,
    ThreadPoolUnixStreamServer,
)
from ._servers import TCPServer, UDPServer, UnixDatagramServer, UnixStreamServer
from ._tls import (
    ForkingTLSTCPServer,
    ThreadingTLSTCPServer,
    ThreadPoolTLSTCPServer,
    TLSConfigError,
    TLSMixIn,
    TLSTCPServer,
)

# The "X as X" imports above are socketserver's private names that code written for it
# imports or patches (_ServerSelector, _SocketWriter, _Threads, _NoThreads), with the
# same meaning; they stay out of __all__, as in socketserver.

__version__ = "0.1.0"

__all__ = [
    "AddressError",
    "AddressTypeError",
    "BaseRequestHandler",
    "BaseServer",
    "DatagramRequestHandler",
    "ForkingMixIn",
    "ForkingTCPServer",
    "ForkingUDPServer",
    "ForkingUnixDatagramServer",
    "ForkingUnixStreamServer",
    "NetserveError",
    "PortOutOfRangeError",
    "ShutdownDeadlockError",
    "StreamRequestHandler",
    "TCPServer",
    "ThreadPoolMixIn",
    "ThreadPoolTCPServer",
    "ThreadPoolUDPServer",
    "ThreadPoolUnixDatagramServer",
    "ThreadPoolUnixStreamServer",
    "ThreadingMixIn",
    "ThreadingTCPServer",
    "ThreadingUDPServer",
    "ThreadingUnixDatagramServer",
    "ThreadingUnixStreamServer",
    "UDPServer",
    "UnixDatagramServer",
    "UnixStreamServer",
]

# TLS (the _tls module): the mix-in, its error, and the predefined TLS TCP servers.
__all__ += [
    "ForkingTLSTCPServer",
    "TLSConfigError",
    "TLSMixIn",
    "TLSTCPServer",
    "ThreadPoolTLSTCPServer",
    "ThreadingTLSTCPServer",
]
