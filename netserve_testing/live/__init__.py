"""The live wing: real servers on loopback and Unix sockets, and the clients that talk to them.

Server kinds, the per-test harness (:func:`serve`, :class:`ServerHandle`), the
records of what handlers did (in threads and forked children), leak checks,
the factory behind the pytest fixture, scripted clients (plain and TLS), and the
liveness check. It imports the script wing (clients play scripts), the session CA of
``_tls``, and nothing from the memory wing.
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
from ._liveness import ServerStalled, check_liveness
from ._records import (
    HandlerError,
    HandlerErrors,
    RequestRecord,
    RequestsTimeout,
    ServerCheckFailed,
)
from ._tls_client import TLSClient, client_hello

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
    "ServerStalled",
    "StreamClient",
    "TCPClient",
    "TLSClient",
    "UDPClient",
    "UnixDatagramClient",
    "UnixStreamClient",
    "check_liveness",
    "client_hello",
    "connect",
    "select_kinds",
    "serve",
]
