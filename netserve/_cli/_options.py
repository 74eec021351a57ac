"""The ``python -m netserve`` command line: its parser, and :class:`Options`, what it asks for."""

from __future__ import annotations

import argparse
import socket
import ssl
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from .._echo import UpperCaseDatagramEchoHandler, UpperCaseEchoHandler
from ._values import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    load_handler,
    load_server_class,
    load_tls_context,
    parse_attribute,
    parse_host_port,
    parse_pool_size,
    parse_unix_path,
)

# An IP address as the command line gives it (host, port), or a Unix socket path.
Address = Union["tuple[str, int]", str]
#: The transports whose requests are datagrams, served by the datagram echo by default.
DATAGRAM_TRANSPORTS = ("udp", "unix-dgram")
#: The transports whose address is a Unix socket path.
UNIX_TRANSPORTS = ("unix", "unix-dgram")


@dataclass(frozen=True)
class Options:
    """What to serve, where and how: the parsed command line.

    Attributes:
        handler: the request handler class.
        transport: ``"tcp"``, ``"udp"``, ``"unix"`` or ``"unix-dgram"``.
        address: ``(host, port)`` for tcp and udp, a path for the unix transports
            (leading NUL: abstract).
        concurrency: ``"threading"``, ``"forking"``, ``"pool"`` or ``"sync"``; ``"custom"``
            with ``server_class``.
        pool_size: the pool's ``max_workers`` when concurrency is ``"pool"``, else None.
        server_class: the class from ``--server-class``, used as is, or None.
        attributes: ``(name, value)`` pairs from ``--attr``, set as class attributes.
        ssl_context: the server context loaded from ``--tls`` (and ``--tls-key``), or None
            to serve without TLS.
    """

    handler: type
    transport: str
    address: Address
    concurrency: str
    pool_size: Optional[int] = None
    server_class: Optional[type] = None
    attributes: tuple[tuple[str, object], ...] = ()
    ssl_context: Optional[ssl.SSLContext] = None


def build_parser() -> argparse.ArgumentParser:
    """Return the ``python -m netserve`` argument parser.

    Example:
        >>> build_parser().parse_args(["--udp", "127.0.0.1:0", "--pool", "4"]).pool
        4
    """
    parser = argparse.ArgumentParser(
        prog="python -m netserve",
        description=(
            "Serve a socketserver request handler until Ctrl-C or SIGTERM. Without HANDLER, "
            "serve an upper-casing echo handler. One line per request is logged to stderr."
        ),
        epilog=(
            "A datagram transport (--udp) needs a datagram handler (request is (data, "
            "socket)), a stream transport a stream handler; this is not checked. The first "
            "Ctrl-C or SIGTERM waits for running requests; a second one exits at once."
        ),
    )
    parser.add_argument(
        "handler",
        nargs="?",
        type=load_handler,
        metavar="MODULE:HANDLER",
        help="request handler class to serve, e.g. myapp.handlers:EchoHandler",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--tcp",
        type=parse_host_port,
        metavar="HOST:PORT",
        help=f"serve TCP (the default, on {DEFAULT_HOST}:{DEFAULT_PORT}); port 0 picks a free one",
    )
    where.add_argument("--udp", type=parse_host_port, metavar="HOST:PORT", help="serve UDP")
    where.add_argument(
        "--unix",
        type=parse_unix_path,
        metavar="PATH",
        help="serve a Unix stream socket at PATH (@NAME: Linux abstract socket)",
    )
    where.add_argument(
        "--unix-dgram",
        type=parse_unix_path,
        metavar="PATH",
        help="serve a Unix datagram socket at PATH (@NAME: Linux abstract socket)",
    )
    how = parser.add_mutually_exclusive_group()
    how.add_argument(
        "--threading",
        dest="concurrency",
        action="store_const",
        const="threading",
        help="one thread per request (the default)",
    )
    how.add_argument(
        "--forking",
        dest="concurrency",
        action="store_const",
        const="forking",
        help="one child process per request",
    )
    how.add_argument(
        "--pool",
        type=parse_pool_size,
        metavar="N",
        help="a pool of N worker threads",
    )
    how.add_argument(
        "--sync",
        dest="concurrency",
        action="store_const",
        const="sync",
        help="one request at a time, in the main thread",
    )
    how.add_argument(
        "--server-class",
        type=load_server_class,
        metavar="MODULE:CLASS",
        help="serve with this socketserver-style server class as is, e.g. "
        "socketserver:ForkingTCPServer (the address option must match its family)",
    )
    parser.add_argument(
        "--attr",
        type=parse_attribute,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a server class attribute, e.g. --attr max_children=8 --attr hub=main; "
        "VALUE is a Python literal if it parses as one, else a string (repeatable)",
    )
    parser.add_argument(
        "--tls",
        metavar="CERTFILE",
        help=(
            "serve TLS over --tcp or --unix with this PEM certificate chain (and its key, "
            "unless --tls-key is given); handshakes run in each request's thread or child"
        ),
    )
    parser.add_argument(
        "--tls-key", metavar="KEYFILE", help="the private key for --tls, in a file of its own"
    )
    return parser


def parse_options(argv: Optional[Sequence[str]] = None) -> Options:
    """Parse a command line into :class:`Options`; exit with status 2 on a usage error.

    Args:
        argv: the arguments, without the program name; None reads ``sys.argv``.

    Example:
        >>> options = parse_options(["--tcp", "localhost:0", "--forking"])
        >>> options.transport, options.address, options.concurrency
        ('tcp', ('localhost', 0), 'forking')
    """
    namespace = build_parser().parse_args(argv)
    address: Address
    if namespace.udp is not None:
        transport, address = "udp", namespace.udp
    elif namespace.unix is not None:
        transport, address = "unix", namespace.unix
    elif namespace.unix_dgram is not None:
        transport, address = "unix-dgram", namespace.unix_dgram
    else:
        transport = "tcp"
        address = namespace.tcp if namespace.tcp is not None else (DEFAULT_HOST, DEFAULT_PORT)
    handler = namespace.handler
    if handler is None:
        datagram = transport in DATAGRAM_TRANSPORTS
        handler = UpperCaseDatagramEchoHandler if datagram else UpperCaseEchoHandler
    attributes = tuple(namespace.attr)
    ssl_context = _parse_tls(namespace, transport)
    if namespace.server_class is not None:
        return Options(
            handler,
            transport,
            address,
            "custom",
            server_class=namespace.server_class,
            attributes=attributes,
            ssl_context=ssl_context,
        )
    if namespace.pool is not None:
        return Options(
            handler,
            transport,
            address,
            "pool",
            namespace.pool,
            attributes=attributes,
            ssl_context=ssl_context,
        )
    concurrency = namespace.concurrency or "threading"
    return Options(
        handler, transport, address, concurrency, attributes=attributes, ssl_context=ssl_context
    )


def _parse_tls(namespace: argparse.Namespace, transport: str) -> Optional[ssl.SSLContext]:
    # The server context of --tls/--tls-key; usage errors exit with status 2.
    if namespace.tls is None:
        if namespace.tls_key is not None:
            build_parser().error(f"argument --tls-key: needs --tls CERTFILE: {namespace.tls_key!r}")
        return None
    stream = getattr(namespace.server_class, "socket_type", socket.SOCK_STREAM)
    if transport in DATAGRAM_TRANSPORTS or stream != socket.SOCK_STREAM:
        build_parser().error("argument --tls: tls needs a stream transport (--tcp or --unix)")
    try:
        return load_tls_context(namespace.tls, namespace.tls_key)
    except argparse.ArgumentTypeError as exc:
        build_parser().error(f"argument --tls: {exc}")
