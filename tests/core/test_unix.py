"""UnixStreamServer and UnixDatagramServer: path types, abstract names, socket-file ownership."""

from __future__ import annotations

import errno
import os
import pathlib
import socket
import stat
import sys
import uuid
from typing import Any

import pytest

import netserve

from ._support import (
    DatagramEchoUpperHandler,
    EchoUpperHandler,
    exchange,
    open_fds,
    serving,
)

IS_LINUX = sys.platform.startswith("linux")
UNIX_CLASSES = ["UnixStreamServer", "UnixDatagramServer"]


def handler_for(class_name: str) -> Any:
    return DatagramEchoUpperHandler if "Datagram" in class_name else EchoUpperHandler


def make_path(kind: str, path: str) -> Any:
    if kind == "bytes":
        return os.fsencode(path)
    if kind == "pathlike":
        return pathlib.Path(path)
    return path


def is_socket_file(path: str) -> bool:
    return stat.S_ISSOCK(os.lstat(path).st_mode)


def test_UnixStreamServer_class_attributes() -> None:
    assert netserve.UnixStreamServer.address_family == socket.AF_UNIX
    assert netserve.UnixStreamServer.socket_type == socket.SOCK_STREAM
    assert netserve.UnixDatagramServer.address_family == socket.AF_UNIX
    assert netserve.UnixDatagramServer.socket_type == socket.SOCK_DGRAM


@pytest.mark.parametrize("class_name", UNIX_CLASSES)
@pytest.mark.parametrize("kind", ["str", "bytes", "pathlike"])
def test_UnixServer_serves_on_a_path(
    class_name: str, kind: str, unix_dir: str, unix_path: str
) -> None:
    server = getattr(netserve, class_name)(make_path(kind, unix_path), handler_for(class_name))
    with serving(server):
        assert is_socket_file(unix_path)
        assert os.fsdecode(server.server_address) == unix_path
        assert exchange(server, b"unix\n", unix_dir) == b"UNIX"
    assert not os.path.exists(unix_path), "server_close() must remove the socket file"


@pytest.mark.parametrize("class_name", UNIX_CLASSES)
def test_UnixServer_removes_its_socket_file_on_server_close(
    class_name: str, unix_path: str
) -> None:
    server = getattr(netserve, class_name)(unix_path, handler_for(class_name))
    assert is_socket_file(unix_path)
    server.server_close()
    assert not os.path.exists(unix_path)
    server.server_close()  # closing twice is harmless


@pytest.mark.skipif(not IS_LINUX, reason="abstract unix names are Linux-only")
@pytest.mark.parametrize("class_name", UNIX_CLASSES)
@pytest.mark.parametrize("kind", ["str", "bytes"])
def test_UnixServer_serves_on_an_abstract_name(class_name: str, kind: str, unix_dir: str) -> None:
    name = f"\0netserve-test-{uuid.uuid4().hex}"
    address = name.encode() if kind == "bytes" else name
    before = set(os.listdir(unix_dir))
    server = getattr(netserve, class_name)(address, handler_for(class_name))
    with serving(server):
        assert os.fsencode(server.server_address) == name.encode()
        assert exchange(server, b"abstract\n", unix_dir) == b"ABSTRACT"
    # No file anywhere to remove; the name is free again once closed.
    assert set(os.listdir(unix_dir)) - before <= {n for n in os.listdir(unix_dir) if n[0] == "c"}
    with socket.socket(socket.AF_UNIX, server.socket_type) as again:
        again.bind(address)


@pytest.mark.parametrize("class_name", UNIX_CLASSES)
def test_UnixServer_never_deletes_a_pre_existing_regular_file(
    class_name: str, unix_path: str
) -> None:
    pathlib.Path(unix_path).write_bytes(b"precious")
    before = open_fds()
    with pytest.raises(OSError, match="already in use") as excinfo:
        getattr(netserve, class_name)(unix_path, handler_for(class_name))
    assert excinfo.value.errno == errno.EADDRINUSE
    assert unix_path in str(excinfo.value), "the bind error should name the path"
    assert pathlib.Path(unix_path).read_bytes() == b"precious"
    assert open_fds() - before == set()


@pytest.mark.parametrize("class_name", UNIX_CLASSES)
def test_UnixServer_does_not_delete_a_file_that_replaced_its_socket(
    class_name: str, unix_path: str
) -> None:
    server = getattr(netserve, class_name)(unix_path, handler_for(class_name))
    os.unlink(unix_path)
    pathlib.Path(unix_path).write_bytes(b"someone else's")
    server.server_close()
    assert pathlib.Path(unix_path).read_bytes() == b"someone else's"


@pytest.mark.parametrize("class_name", UNIX_CLASSES)
def test_UnixServer_does_not_delete_another_servers_socket(
    class_name: str, unix_dir: str, unix_path: str
) -> None:
    server_class = getattr(netserve, class_name)
    first = server_class(unix_path, handler_for(class_name))
    os.unlink(unix_path)
    second = server_class(unix_path, handler_for(class_name))
    with serving(second):
        first.server_close()
        assert is_socket_file(unix_path)
        assert exchange(second, b"still here\n", unix_dir) == b"STILL HERE"
    assert not os.path.exists(unix_path)


@pytest.mark.parametrize("class_name", UNIX_CLASSES)
def test_UnixServer_unbound_server_close_leaves_the_path_alone(
    class_name: str, unix_path: str
) -> None:
    pathlib.Path(unix_path).write_bytes(b"not mine")
    server = getattr(netserve, class_name)(
        unix_path, handler_for(class_name), bind_and_activate=False
    )
    server.server_close()
    assert pathlib.Path(unix_path).read_bytes() == b"not mine"


def test_UnixStreamServer_bind_and_activate_false_then_manual(
    unix_dir: str, unix_path: str
) -> None:
    server = netserve.UnixStreamServer(unix_path, EchoUpperHandler, bind_and_activate=False)
    with server:
        assert not os.path.exists(unix_path)
        server.server_bind()
        server.server_activate()
        with serving(server):
            assert exchange(server, b"manual\n", unix_dir) == b"MANUAL"
    assert not os.path.exists(unix_path)


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT")
@pytest.mark.parametrize("class_name", UNIX_CLASSES)
def test_UnixServer_ignores_allow_reuse_port(class_name: str, unix_path: str) -> None:
    server_class: Any = type("Server", (getattr(netserve, class_name),), {"allow_reuse_port": True})
    with server_class(unix_path, handler_for(class_name)) as server:
        assert server.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0


def test_UnixStreamServer_client_address_and_request(unix_path: str) -> None:
    seen: list[Any] = []

    class Capture(netserve.BaseRequestHandler):
        def handle(self) -> None:
            seen.append((self.request.family, self.client_address))

    server = netserve.UnixStreamServer(unix_path, Capture)
    with server, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(unix_path)
        server.handle_request()
    assert seen == [(socket.AF_UNIX, "")]
