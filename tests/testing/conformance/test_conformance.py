"""The conformance checks pass on FakeStreamSocket and on real sockets alike."""

from __future__ import annotations

import contextlib
import functools
import socket
from typing import Any, Callable, Iterator, Tuple

import pytest

import netserve_testing
from netserve_testing import (
    FakeStreamSocket,
    PairFactory,
    check_eof,
    check_large_transfer,
    check_stream_socket,
    fake_stream_pair,
    socketpair_stream_pair,
    tcp_stream_pair,
    unix_stream_pair,
)
from netserve_testing.conformance._suite import ALL_CHECKS


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


PAIRS = [
    pytest.param(fake_stream_pair, id="fake"),
    pytest.param(functools.partial(fake_stream_pair, socket.AF_INET6), id="fake-tcp6"),
    pytest.param(functools.partial(fake_stream_pair, socket.AF_UNIX), id="fake-unix"),
    pytest.param(socketpair_stream_pair, id="socketpair"),
    pytest.param(unix_stream_pair, id="unix"),
    pytest.param(tcp_stream_pair, id="tcp4"),
    pytest.param(
        functools.partial(tcp_stream_pair, "::1"),
        id="tcp6",
        marks=pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback"),
    ),
]


@pytest.mark.parametrize("make_pair", PAIRS)
@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda check: check.__name__)
def test_conformance_check_passes(check: Callable[[PairFactory], None], make_pair: Any) -> None:
    check(make_pair)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_check_large_transfer_other_seeds_on_fake(seed: int) -> None:
    check_large_transfer(fake_stream_pair, total=200_000, seed=seed)


def test_check_stream_socket_runs_every_check() -> None:
    check_stream_socket(fake_stream_pair)


def test_every_check_is_exported() -> None:
    for check in ALL_CHECKS:
        assert getattr(netserve_testing, check.__name__) is check


class _SilentAtEof(FakeStreamSocket):
    # A broken implementation: reading at EOF raises instead of returning b"".
    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        if not data and bufsize:
            raise ConnectionAbortedError("eof is an error here")
        return data


@contextlib.contextmanager
def _broken_pair() -> Iterator[Tuple[Any, Any]]:
    sock = _SilentAtEof()
    yield sock, sock.peer


def test_checks_catch_a_broken_implementation() -> None:
    with pytest.raises(ConnectionAbortedError):
        check_eof(_broken_pair)


class _NoHalfClose(FakeStreamSocket):
    # A broken implementation: shutdown(SHUT_WR) does nothing.
    def shutdown(self, how: int) -> None:
        return None


@contextlib.contextmanager
def _no_half_close_pair() -> Iterator[Tuple[Any, Any]]:
    sock = _NoHalfClose()
    yield sock, sock.peer


def test_check_stream_socket_names_the_failed_check() -> None:
    with pytest.raises(AssertionError, match=r"^check_half_close: peer did not read EOF"):
        check_stream_socket(_no_half_close_pair)
