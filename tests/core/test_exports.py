"""The public surface of ``netserve``: names, docstrings, class hierarchy, no socketserver."""

from __future__ import annotations

import inspect
import re
import socketserver
import subprocess
import sys
import textwrap

import pytest

import netserve

from ._support import child_env

#: ``socketserver.__all__`` on CPython 3.13, in its order.
SOCKETSERVER_313_ALL = [
    "BaseServer",
    "TCPServer",
    "UDPServer",
    "ThreadingUDPServer",
    "ThreadingTCPServer",
    "BaseRequestHandler",
    "StreamRequestHandler",
    "DatagramRequestHandler",
    "ThreadingMixIn",
    "ForkingUDPServer",
    "ForkingTCPServer",
    "ForkingMixIn",
    "UnixStreamServer",
    "UnixDatagramServer",
    "ThreadingUnixStreamServer",
    "ThreadingUnixDatagramServer",
    "ForkingUnixStreamServer",
    "ForkingUnixDatagramServer",
]

NETSERVE_EXTRA = [
    "ThreadPoolMixIn",
    "ThreadPoolTCPServer",
    "ThreadPoolUDPServer",
    "ThreadPoolUnixStreamServer",
    "ThreadPoolUnixDatagramServer",
    "NetserveError",
    "ShutdownDeadlockError",
    "AddressError",
    "AddressTypeError",
    "PortOutOfRangeError",
    "TLSConfigError",
    "TLSMixIn",
    "TLSTCPServer",
    "ThreadingTLSTCPServer",
    "ForkingTLSTCPServer",
    "ThreadPoolTLSTCPServer",
]

#: (predefined class, its mix-in, its base server) for every predefined combination.
PREDEFINED = [
    (f"{mixin}{server}", f"{mixin}MixIn", server)
    for mixin in ("Threading", "Forking", "ThreadPool")
    for server in ("TCPServer", "UDPServer", "UnixStreamServer", "UnixDatagramServer")
] + [
    (f"{mixin}TLSTCPServer", f"{mixin}MixIn", "TLSMixIn")
    for mixin in ("Threading", "Forking", "ThreadPool")
]


def test_all_has_the_18_names_of_socketserver_313() -> None:
    assert len(SOCKETSERVER_313_ALL) == 18
    missing = [name for name in SOCKETSERVER_313_ALL if name not in netserve.__all__]
    assert missing == []


def test_all_covers_the_running_socketserver_all() -> None:
    missing = [name for name in socketserver.__all__ if name not in netserve.__all__]
    assert missing == []


def test_all_is_exactly_socketserver_plus_the_netserve_extras() -> None:
    assert len(netserve.__all__) == len(set(netserve.__all__)), "duplicates in __all__"
    assert set(netserve.__all__) == set(SOCKETSERVER_313_ALL) | set(NETSERVE_EXTRA)


@pytest.mark.parametrize("name", SOCKETSERVER_313_ALL + NETSERVE_EXTRA)
def test_public_name_is_importable_and_documented(name: str) -> None:
    obj = getattr(netserve, name)
    assert inspect.getdoc(obj), f"netserve.{name} has no docstring"
    assert obj.__module__.startswith("netserve"), obj.__module__


def _has_example(doc: str) -> bool:
    # A Google-style "Example:" (or "Examples:") section with at least one doctest line.
    section = re.search(r"^Examples?:$(.*)", doc, re.MULTILINE | re.DOTALL)
    return section is not None and ">>> " in section.group(1)


@pytest.mark.parametrize("name", netserve.__all__)
def test_public_name_has_an_example(name: str) -> None:
    # The class's own docstring, not one inherited; the examples run in test_docstrings.py.
    obj = getattr(netserve, name)
    if inspect.isclass(obj):
        doc = inspect.cleandoc(vars(obj).get("__doc__") or "")
    else:
        doc = inspect.getdoc(obj) or ""
    assert _has_example(doc), f"netserve.{name} has no 'Example:' section with doctest lines"


@pytest.mark.parametrize("name", SOCKETSERVER_313_ALL + NETSERVE_EXTRA)
def test_public_class_does_not_derive_from_socketserver(name: str) -> None:
    cls = getattr(netserve, name)
    assert inspect.isclass(cls)
    foreign = [base for base in cls.__mro__ if base.__module__ == "socketserver"]
    assert foreign == []


def test_import_netserve_does_not_import_socketserver() -> None:
    code = "import sys, netserve; print('socketserver' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env=child_env(),
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "False"


def test_exception_hierarchy() -> None:
    assert issubclass(netserve.NetserveError, Exception)
    assert issubclass(netserve.ShutdownDeadlockError, netserve.NetserveError)
    assert issubclass(netserve.ShutdownDeadlockError, RuntimeError)
    assert issubclass(netserve.AddressError, netserve.NetserveError)
    assert issubclass(netserve.AddressError, ValueError)
    assert issubclass(netserve.AddressTypeError, netserve.NetserveError)
    assert issubclass(netserve.AddressTypeError, TypeError)
    assert issubclass(netserve.PortOutOfRangeError, netserve.AddressError)
    assert issubclass(netserve.PortOutOfRangeError, OverflowError)
    assert issubclass(netserve.TLSConfigError, netserve.NetserveError)
    assert issubclass(netserve.TLSConfigError, ValueError)


def test_server_class_hierarchy_follows_the_documented_diagram() -> None:
    assert issubclass(netserve.TCPServer, netserve.BaseServer)
    assert issubclass(netserve.UDPServer, netserve.TCPServer)
    assert issubclass(netserve.UnixStreamServer, netserve.TCPServer)
    assert issubclass(netserve.UnixDatagramServer, netserve.UDPServer)
    assert not issubclass(netserve.UnixDatagramServer, netserve.UnixStreamServer)
    assert not issubclass(netserve.UnixStreamServer, netserve.UDPServer)


def test_request_handler_class_hierarchy() -> None:
    assert issubclass(netserve.StreamRequestHandler, netserve.BaseRequestHandler)
    assert issubclass(netserve.DatagramRequestHandler, netserve.BaseRequestHandler)


@pytest.mark.parametrize(("name", "mixin", "server"), PREDEFINED)
def test_predefined_class_puts_its_mixin_first(name: str, mixin: str, server: str) -> None:
    cls = getattr(netserve, name)
    mro = cls.__mro__
    mixin_cls = getattr(netserve, mixin)
    server_cls = getattr(netserve, server)
    assert mixin_cls in mro
    assert server_cls in mro
    assert mro.index(mixin_cls) < mro.index(server_cls), f"{name} must list {mixin} first"
    assert not issubclass(mixin_cls, netserve.BaseServer), f"{mixin} must be a plain mix-in"


def test_import_netserve_as_socketserver_runs_stdlib_code_unchanged() -> None:
    program = textwrap.dedent(
        """
        import socket
        import threading
        import netserve as socketserver

        class UpperHandler(socketserver.StreamRequestHandler):
            def handle(self):
                data = self.rfile.readline().strip()
                self.wfile.write(data.upper())

        class UDPHandler(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                sock.sendto(data.upper(), self.client_address)

        class ThreadedTCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
            pass

        with ThreadedTCPServer(("localhost", 0), UpperHandler) as server:
            ip, port = server.server_address
            t = threading.Thread(target=server.serve_forever)
            t.daemon = True
            t.start()
            for word in ("hello", "world"):
                with socket.create_connection((ip, port), timeout=10) as sock:
                    sock.sendall(word.encode() + b"\\n")
                    print(sock.recv(1024).decode())
            server.shutdown()

        with socketserver.UDPServer(("127.0.0.1", 0), UDPHandler) as server:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(10)
                sock.sendto(b"udp", server.server_address)
                server.handle_request()
                print(sock.recv(1024).decode())
        """
    )
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", program],
        capture_output=True,
        env=child_env(),
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["HELLO", "WORLD", "UDP"]
    assert result.stderr == ""
