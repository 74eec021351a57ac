"""Testing tools for socketserver request handlers: fakes, scripts, clients, a pytest plugin."""

from __future__ import annotations

from ._chunks import Chunking
from ._clients import (
    DatagramClient,
    StreamClient,
    TCPClient,
    UDPClient,
    UnixDatagramClient,
    UnixStreamClient,
    connect,
)
from ._conformance import (
    PairFactory,
    StreamPeer,
    check_closed_socket,
    check_eof,
    check_half_close,
    check_large_transfer,
    check_makefile_reads,
    check_makefile_writes,
    check_reset,
    check_send_recv,
    check_send_timeout,
    check_socket_options,
    check_stream_socket,
    check_timeouts,
    fake_stream_pair,
    socketpair_stream_pair,
    tcp_stream_pair,
)
from ._errors import ExpectationFailed, HandlerWouldBlock, NetserveTestingError
from ._factory import ServerFactory
from ._fake_datagram import FakeDatagramSocket
from ._fake_server import FakeServer
from ._fakes import FakePeer, FakeStreamSocket
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
from ._run import DatagramRun, HandlerRun, run_datagram_handler, run_handler
from ._script import (
    Close,
    Expect,
    Expectation,
    ExpectClosed,
    ExpectLine,
    ExpectRegex,
    GoQuiet,
    Matched,
    Mismatch,
    Reset,
    Script,
    ScriptClient,
    Send,
    Step,
)
from ._transcript import Transcript, TranscriptEntry

__all__ = [
    "ALL_KINDS",
    "Chunking",
    "Close",
    "DatagramClient",
    "DatagramRun",
    "Expect",
    "ExpectClosed",
    "ExpectLine",
    "ExpectRegex",
    "Expectation",
    "ExpectationFailed",
    "FakeDatagramSocket",
    "FakePeer",
    "FakeServer",
    "FakeStreamSocket",
    "GoQuiet",
    "HandlerError",
    "HandlerErrors",
    "HandlerRun",
    "HandlerWouldBlock",
    "Matched",
    "Mismatch",
    "NetserveProvider",
    "NetserveTestingError",
    "PairFactory",
    "RequestRecord",
    "RequestsTimeout",
    "Reset",
    "Script",
    "ScriptClient",
    "Send",
    "ServerCheckFailed",
    "ServerFactory",
    "ServerHandle",
    "ServerKind",
    "Step",
    "StreamClient",
    "StreamPeer",
    "TCPClient",
    "Transcript",
    "TranscriptEntry",
    "UDPClient",
    "UnixDatagramClient",
    "UnixStreamClient",
    "check_closed_socket",
    "check_eof",
    "check_half_close",
    "check_large_transfer",
    "check_makefile_reads",
    "check_makefile_writes",
    "check_reset",
    "check_send_recv",
    "check_send_timeout",
    "check_socket_options",
    "check_stream_socket",
    "check_timeouts",
    "connect",
    "fake_stream_pair",
    "make_faker",
    "run_datagram_handler",
    "run_handler",
    "select_kinds",
    "serve",
    "socketpair_stream_pair",
    "tcp_stream_pair",
]
