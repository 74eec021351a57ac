"""The live wing: real servers on loopback and Unix sockets, and the clients that talk to them.

Server kinds, the per-test harness (:func:`serve`, :class:`ServerHandle`), the
records of what handlers did (in threads and forked children), leak checks,
the factory behind the pytest fixture, scripted clients (plain and TLS), the liveness
check, and the fault proxy (:class:`FaultProxy` and its faults). It imports the script
wing (clients play scripts), the session CA of ``_tls``, and nothing from the memory wing.
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
from ._faults import (
    Bandwidth,
    BlackHole,
    Fault,
    Latency,
    LimitData,
    Refuse,
    ResetPeer,
    Slice,
    SlowClose,
)
from ._harness import ServerHandle, serve
from ._kinds import ALL_KINDS, ServerKind, select_kinds
from ._liveness import ServerStalled, check_liveness
from ._proxy import FaultProxy
from ._proxy_transcript import ConnectionTranscript, ProxyEvent
from ._records import (
    ChildProcessDied,
    HandlerError,
    HandlerErrors,
    RequestRecord,
    RequestsTimeout,
    ServerCheckFailed,
)
from ._tls_client import TLSClient, client_hello

__all__ = [
    "ALL_KINDS",
    "Bandwidth",
    "BlackHole",
    "ChildProcessDied",
    "ConnectionTranscript",
    "DatagramClient",
    "Fault",
    "FaultProxy",
    "HandlerError",
    "HandlerErrors",
    "Latency",
    "LimitData",
    "ProxyEvent",
    "Refuse",
    "RequestRecord",
    "RequestsTimeout",
    "ResetPeer",
    "ServerCheckFailed",
    "ServerFactory",
    "ServerHandle",
    "ServerKind",
    "ServerStalled",
    "Slice",
    "SlowClose",
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
