"""The live wing: real servers on loopback and Unix sockets, and the clients that talk to them.

Server kinds, the per-test harness (:func:`serve`, :class:`ServerHandle`), the
records of what handlers did (in threads and forked children), leak checks,
the factory behind the pytest fixture, and scripted clients. It imports the
script wing (clients play scripts) and nothing from the memory wing.
"""

from __future__ import annotations

from ._clients import (
    DatagramClient,
    StreamClient,
    TCPClient,
    UDPClient,
    UnixDatagramClient,
    UnixStreamClient,
    connect,
)
from ._factory import ServerFactory
from ._harness import ServerHandle, serve
from ._kinds import ALL_KINDS, ServerKind, select_kinds
from ._records import (
    HandlerError,
    HandlerErrors,
    RequestRecord,
    RequestsTimeout,
    ServerCheckFailed,
)

__all__ = [
    "ALL_KINDS",
    "DatagramClient",
    "HandlerError",
    "HandlerErrors",
    "RequestRecord",
    "RequestsTimeout",
    "ServerCheckFailed",
    "ServerFactory",
    "ServerHandle",
    "ServerKind",
    "StreamClient",
    "TCPClient",
    "UDPClient",
    "UnixDatagramClient",
    "UnixStreamClient",
    "connect",
    "select_kinds",
    "serve",
]
