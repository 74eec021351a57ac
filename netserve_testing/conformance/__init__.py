"""The conformance wing: one set of checks that fakes and kernel sockets must both pass.

``check_*`` functions take a pair factory (a fake pair, or a real socketpair,
TCP, UDP or Unix pair) and assert the same behaviour of each, so the fakes are
held to what the kernel does. It imports the memory wing (to build fake pairs).
"""

from __future__ import annotations

from ._datagram import (
    DatagramPairFactory,
    DatagramPeer,
    check_datagram_addresses,
    check_datagram_closed_socket,
    check_datagram_send_recv,
    check_datagram_socket,
    check_datagram_timeouts,
    check_datagram_truncation,
    fake_datagram_pair,
    udp_datagram_pair,
    unix_datagram_pair,
)
from ._stream import (
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

__all__ = [
    "DatagramPairFactory",
    "DatagramPeer",
    "PairFactory",
    "StreamPeer",
    "check_closed_socket",
    "check_datagram_addresses",
    "check_datagram_closed_socket",
    "check_datagram_send_recv",
    "check_datagram_socket",
    "check_datagram_timeouts",
    "check_datagram_truncation",
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
    "fake_datagram_pair",
    "fake_stream_pair",
    "socketpair_stream_pair",
    "tcp_stream_pair",
    "udp_datagram_pair",
    "unix_datagram_pair",
]
