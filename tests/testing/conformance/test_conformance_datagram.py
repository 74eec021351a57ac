"""The datagram conformance checks pass on FakeDatagramSocket and on real sockets alike."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
from typing import Any, Callable, Iterator, Tuple

import pytest

import netserve_testing
from netserve_testing import (
    DatagramPairFactory,
    FakeDatagramSocket,
    check_datagram_socket,
    check_datagram_truncation,
    fake_datagram_pair,
    udp_datagram_pair,
    unix_datagram_pair,
)
from netserve_testing.conformance._datagram import ALL_DATAGRAM_CHECKS, _FakePeer


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


NO_IPV6 = pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")
PAIRS = [
    pytest.param(fake_datagram_pair, id="fake4"),
    pytest.param(functools.partial(fake_datagram_pair, socket.AF_INET6), id="fake6"),
    pytest.param(functools.partial(fake_datagram_pair, socket.AF_UNIX), id="fake-unix"),
    pytest.param(udp_datagram_pair, id="udp4"),
    pytest.param(functools.partial(udp_datagram_pair, "::1"), id="udp6", marks=NO_IPV6),
    pytest.param(unix_datagram_pair, id="unix"),
]


@pytest.mark.parametrize("make_pair", PAIRS)
@pytest.mark.parametrize("check", ALL_DATAGRAM_CHECKS, ids=lambda check: check.__name__)
def test_datagram_conformance_check_passes(
    check: Callable[[DatagramPairFactory], None], make_pair: Any
) -> None:
    check(make_pair)


def test_check_datagram_socket_runs_every_check() -> None:
    check_datagram_socket(fake_datagram_pair)


def test_every_datagram_check_is_exported() -> None:
    for check in ALL_DATAGRAM_CHECKS:
        assert getattr(netserve_testing, check.__name__) is check


def test_unix_datagram_pair_removes_its_files() -> None:
    with unix_datagram_pair() as (sock, peer):
        paths = [sock.getsockname(), peer.address]
    assert all(isinstance(path, str) and path.startswith("/") for path in paths)
    assert not any(os.path.exists(path) for path in paths)


class _KeepsTheRest(FakeDatagramSocket):
    # A broken implementation: a short read leaves the rest of the datagram queued,
    # as a stream would.
    def recvfrom(self, bufsize: int, flags: int = 0) -> Tuple[bytes, Any]:
        data, address = super().recvfrom(1 << 16, flags | socket.MSG_PEEK)
        if len(data) <= bufsize:
            return super().recvfrom(bufsize, flags)
        self._inbound[0] = (data[bufsize:], address)
        return data[:bufsize], address


@contextlib.contextmanager
def _keeps_the_rest_pair() -> Iterator[Tuple[Any, Any]]:
    with _KeepsTheRest() as sock:
        yield sock, _FakePeer(sock, ("127.0.0.1", 50000))


def test_datagram_checks_catch_a_broken_implementation() -> None:
    with pytest.raises(AssertionError, match=r"^check_datagram_truncation: the truncated rest"):
        check_datagram_socket(_keeps_the_rest_pair)
    with pytest.raises(AssertionError, match="the truncated rest was not dropped"):
        check_datagram_truncation(_keeps_the_rest_pair)
