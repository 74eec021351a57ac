"""Testing tools for socketserver request handlers: fakes, scripts, clients, a pytest plugin."""

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
from ._errors import ExpectationFailed, HandlerWouldBlock, NetserveTestingError
from ._factory import ServerFactory
from ._harness import ServerHandle, serve
from ._kinds import ALL_KINDS, ServerKind, select_kinds
from ._payloads import NetserveProvider, make_faker
from ._records import (
    HandlerError,
    HandlerErrors,
    RequestRecord,
    RequestsTimeout,
    ServerCheckFailed,
)
from ._transcript import Transcript, TranscriptEntry

__all__ = [
    "ALL_KINDS",
    "DatagramClient",
    "ExpectationFailed",
    "HandlerError",
    "HandlerErrors",
    "HandlerWouldBlock",
    "NetserveProvider",
    "NetserveTestingError",
    "RequestRecord",
    "RequestsTimeout",
    "ServerCheckFailed",
    "ServerFactory",
    "ServerHandle",
    "ServerKind",
    "StreamClient",
    "TCPClient",
    "Transcript",
    "TranscriptEntry",
    "UDPClient",
    "UnixDatagramClient",
    "UnixStreamClient",
    "connect",
    "make_faker",
    "select_kinds",
    "serve",
]
