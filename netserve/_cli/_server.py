"""The server the command line asks for: its class, per-request logging, readable addresses."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from .._base import BaseServer
from .._predefined import (
    ForkingTCPServer,
    ForkingUDPServer,
    ForkingUnixDatagramServer,
    ForkingUnixStreamServer,
    ThreadingTCPServer,
    ThreadingUDPServer,
    ThreadingUnixDatagramServer,
    ThreadingUnixStreamServer,
    ThreadPoolTCPServer,
    ThreadPoolUDPServer,
    ThreadPoolUnixDatagramServer,
    ThreadPoolUnixStreamServer,
)
from .._servers import TCPServer, UDPServer, UnixDatagramServer, UnixStreamServer
from .._tls import TLSMixIn
from ._options import UNIX_TRANSPORTS, Options

_log = logging.getLogger("netserve.cli")

_SERVER_CLASSES: dict[tuple[str, str], type[BaseServer]] = {
    ("tcp", "sync"): TCPServer,
    ("tcp", "threading"): ThreadingTCPServer,
    ("tcp", "forking"): ForkingTCPServer,
    ("tcp", "pool"): ThreadPoolTCPServer,
    ("udp", "sync"): UDPServer,
    ("udp", "threading"): ThreadingUDPServer,
    ("udp", "forking"): ForkingUDPServer,
    ("udp", "pool"): ThreadPoolUDPServer,
    ("unix", "sync"): UnixStreamServer,
    ("unix", "threading"): ThreadingUnixStreamServer,
    ("unix", "forking"): ForkingUnixStreamServer,
    ("unix", "pool"): ThreadPoolUnixStreamServer,
    ("unix-dgram", "sync"): UnixDatagramServer,
    ("unix-dgram", "threading"): ThreadingUnixDatagramServer,
    ("unix-dgram", "forking"): ForkingUnixDatagramServer,
    ("unix-dgram", "pool"): ThreadPoolUnixDatagramServer,
}


class _RequestLogMixIn:
    # Put first in the bases of any socketserver-style class: counts requests in the
    # serving process (process_request runs there) and logs each one where it is handled
    # (finish_request runs in the worker thread or child process).
    request_count = 0
    RequestHandlerClass: Any

    def process_request(self, request: Any, client_address: Any) -> None:
        self.request_count += 1
        super().process_request(request, client_address)  # type: ignore[misc]

    def finish_request(self, request: Any, client_address: Any) -> None:
        started = time.perf_counter()
        outcome = ""
        try:
            super().finish_request(request, client_address)  # type: ignore[misc]
        except BaseException:
            outcome = " (failed)"
            raise
        finally:
            _log.info(
                "%s %s %.2f ms%s",
                format_client_address(client_address),
                self.RequestHandlerClass.__qualname__,
                (time.perf_counter() - started) * 1000,
                outcome,
            )


def make_server(options: Options) -> BaseServer:
    """Create, bind and activate the server the options describe.

    Args:
        options: the parsed command line.

    Returns:
        A server whose class derives from the netserve class for the transport and
        concurrency (or from ``--server-class``), with per-request logging added and the
        ``--attr`` class attributes set.

    Raises:
        OSError: when binding fails (address in use, permission, unknown host...).
        netserve.AddressError: when the address is invalid (e.g. a Unix path too long).
        ValueError: when the server class rejects a setting (e.g. ``max_children=0``).

    Example:
        >>> from netserve._cli import parse_options
        >>> server = make_server(parse_options(["--tcp", "127.0.0.1:0"]))
        >>> type(server).__name__
        'ThreadingTCPServer'
        >>> server.server_close()
    """
    base = options.server_class or _SERVER_CLASSES[options.transport, options.concurrency]
    # The class belongs to the netserve._cli package, where make_server() is imported from.
    attributes: dict[str, object] = {"__module__": __name__.rpartition(".")[0]}
    if options.transport == "tcp":
        attributes["allow_reuse_address"] = True  # restart at once despite TIME_WAIT
    if options.pool_size is not None:
        attributes["max_workers"] = options.pool_size
    attributes.update(options.attributes)
    bases: tuple[type, ...] = (_RequestLogMixIn, base)
    name = base.__name__
    if options.ssl_context is not None:
        attributes["ssl_context"] = options.ssl_context
        bases = (_RequestLogMixIn, TLSMixIn, base)
        name = name.replace("TCPServer", "TLSTCPServer").replace("UnixStream", "TLSUnixStream")
    server_class = type(name, bases, attributes)
    return server_class(options.address, options.handler)  # type: ignore[no-any-return]


def format_address(transport: str, address: object) -> str:
    """Format a server address for humans: ``127.0.0.1:9999``, ``[::1]:80``, ``@abstract``.

    Example:
        >>> format_address("tcp", ("::1", 8000, 0, 0))
        '[::1]:8000'
    """
    if transport in UNIX_TRANSPORTS:
        path = os.fsdecode(address) if isinstance(address, (str, bytes, os.PathLike)) else ""
        return "@" + path[1:] if path.startswith("\0") else path
    return format_client_address(address)


def format_client_address(address: object) -> str:
    """Format a client address: ``host:port`` for IP, the path (or ``-``) for Unix.

    Example:
        >>> format_client_address(("127.0.0.1", 50000))
        '127.0.0.1:50000'
        >>> format_client_address("")
        '-'
    """
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    if isinstance(address, (str, bytes)) and address:
        path = os.fsdecode(address)
        return "@" + path[1:] if path.startswith("\0") else path
    return "-"
