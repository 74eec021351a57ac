"""Addresses: the family follows the address (IPv6 without subclassing), and bad addresses."""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import pytest

import netserve

from ._support import (
    DatagramEchoUpperHandler,
    EchoUpperHandler,
    exchange,
    have_ipv6,
    open_fds,
    serving,
)

IP_CLASSES = ["TCPServer", "UDPServer"]
UNIX_CLASSES = ["UnixStreamServer", "UnixDatagramServer"]
UNIX_PATH_LIMIT = 107 if sys.platform.startswith("linux") else 103
needs_ipv6 = pytest.mark.skipif(not have_ipv6(), reason="IPv6 loopback is not available")


def handler_for(class_name: str) -> Any:
    if "Datagram" in class_name or "UDP" in class_name:
        return DatagramEchoUpperHandler
    return EchoUpperHandler


def path_of_length(directory: str, length: int) -> str:
    """A path in ``directory`` exactly ``length`` bytes long."""
    prefix = f"{directory}/"
    return prefix + "p" * (length - len(prefix))


@needs_ipv6
@pytest.mark.parametrize("class_name", IP_CLASSES)
def test_IPv6_address_selects_AF_INET6_without_subclassing(class_name: str) -> None:
    server = getattr(netserve, class_name)(("::1", 0), handler_for(class_name))
    assert server.address_family == socket.AF_INET6
    assert server.socket.family == socket.AF_INET6
    assert server.server_address[0] == "::1"
    assert server.server_address[1] != 0
    with serving(server):
        assert exchange(server, b"six\n") == b"SIX"


@needs_ipv6
def test_IPv6_server_does_not_change_the_class_family() -> None:
    with netserve.TCPServer(("::1", 0), EchoUpperHandler):
        assert netserve.TCPServer.address_family == socket.AF_INET
    with netserve.TCPServer(("127.0.0.1", 0), EchoUpperHandler) as server:
        assert server.address_family == socket.AF_INET


@needs_ipv6
def test_IPv6_threading_server_serves() -> None:
    server = netserve.ThreadingTCPServer(("::1", 0), EchoUpperHandler)
    with serving(server):
        assert exchange(server, b"threads\n") == b"THREADS"


@pytest.mark.parametrize("class_name", IP_CLASSES)
@pytest.mark.parametrize("address", [None, 123, ["a", 1], "127.0.0.1:80"])
def test_IP_address_of_the_wrong_type_is_an_AddressTypeError(class_name: str, address: Any) -> None:
    before = open_fds()
    with pytest.raises(netserve.AddressTypeError) as excinfo:
        getattr(netserve, class_name)(address, handler_for(class_name))
    assert isinstance(excinfo.value, TypeError)
    assert repr(address) in str(excinfo.value)
    assert open_fds() - before == set()


@pytest.mark.parametrize("class_name", IP_CLASSES)
@pytest.mark.parametrize("address", [("h",), ("127.0.0.1", 0, 0, 0, 0), ()])
def test_IP_address_tuple_of_the_wrong_shape_is_an_AddressTypeError(
    class_name: str, address: Any
) -> None:
    # socket.bind() raises TypeError for these ("AF_INET address must be a pair"), so code
    # written against socketserver catches TypeError; netserve must keep that.
    with pytest.raises(netserve.AddressTypeError) as excinfo:
        getattr(netserve, class_name)(address, handler_for(class_name))
    assert repr(address) in str(excinfo.value)


@pytest.mark.parametrize("class_name", IP_CLASSES)
@pytest.mark.parametrize("port", ["80", 80.0, None])
def test_IP_port_that_is_not_an_int_is_an_AddressTypeError(class_name: str, port: Any) -> None:
    with pytest.raises(netserve.AddressTypeError) as excinfo:
        getattr(netserve, class_name)(("127.0.0.1", port), handler_for(class_name))
    assert repr(port) in str(excinfo.value)


@pytest.mark.parametrize("class_name", IP_CLASSES)
@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_IP_port_out_of_range_is_an_AddressError(class_name: str, port: int) -> None:
    before = open_fds()
    with pytest.raises(netserve.AddressError) as excinfo:
        getattr(netserve, class_name)(("127.0.0.1", port), handler_for(class_name))
    assert isinstance(excinfo.value, ValueError)
    assert str(port) in str(excinfo.value)
    assert open_fds() - before == set()


def test_IP_host_of_the_wrong_type_is_an_AddressTypeError() -> None:
    with pytest.raises(netserve.AddressTypeError) as excinfo:
        netserve.TCPServer((127001, 0), EchoUpperHandler)
    assert "127001" in str(excinfo.value)


def test_address_errors_are_raised_before_a_socket_is_made() -> None:
    before = open_fds()
    for _ in range(200):
        with pytest.raises(netserve.AddressError):
            netserve.TCPServer(("127.0.0.1", 65536), EchoUpperHandler)
    assert open_fds() - before == set()


@pytest.mark.parametrize("class_name", UNIX_CLASSES)
@pytest.mark.parametrize("kind", ["str", "bytes"])
def test_unix_path_over_the_limit_is_an_AddressError_naming_length_and_limit(
    class_name: str, kind: str, unix_dir: str
) -> None:
    path = path_of_length(unix_dir, UNIX_PATH_LIMIT + 1)
    address: Any = os.fsencode(path) if kind == "bytes" else path
    with pytest.raises(netserve.AddressError) as excinfo:
        getattr(netserve, class_name)(address, handler_for(class_name))
    message = str(excinfo.value)
    assert str(UNIX_PATH_LIMIT + 1) in message
    assert str(UNIX_PATH_LIMIT) in message
    assert path in message
    assert not os.path.exists(path)


def test_unix_path_far_over_the_limit_names_its_length(unix_dir: str) -> None:
    path = path_of_length(unix_dir, 200)
    with pytest.raises(netserve.AddressError, match="200") as excinfo:
        netserve.UnixStreamServer(path, EchoUpperHandler)
    assert str(UNIX_PATH_LIMIT) in str(excinfo.value)


@pytest.mark.parametrize("class_name", UNIX_CLASSES)
def test_unix_path_at_the_limit_is_accepted(class_name: str, unix_dir: str) -> None:
    path = path_of_length(unix_dir, UNIX_PATH_LIMIT)
    assert len(os.fsencode(path)) == UNIX_PATH_LIMIT
    server = getattr(netserve, class_name)(path, handler_for(class_name))
    with serving(server):
        assert exchange(server, b"long\n", unix_dir) == b"LONG"
    assert not os.path.exists(path)


@pytest.mark.parametrize("class_name", UNIX_CLASSES)
@pytest.mark.parametrize("address", [None, 123, ("127.0.0.1", 0), ["/tmp/x"]])
def test_unix_address_of_the_wrong_type_is_an_AddressTypeError(
    class_name: str, address: Any
) -> None:
    with pytest.raises(netserve.AddressTypeError) as excinfo:
        getattr(netserve, class_name)(address, handler_for(class_name))
    assert repr(address) in str(excinfo.value)


def test_address_errors_are_netserve_errors() -> None:
    with pytest.raises(netserve.NetserveError):
        netserve.TCPServer(("127.0.0.1", -1), EchoUpperHandler)
    with pytest.raises(netserve.NetserveError):
        netserve.UDPServer(None, DatagramEchoUpperHandler)


def test_address_error_messages_are_short_and_lowercase() -> None:
    with pytest.raises(netserve.AddressError) as excinfo:
        netserve.TCPServer(("127.0.0.1", 65536), EchoUpperHandler)
    message = str(excinfo.value)
    assert message[0].islower()
    assert "\n" not in message
