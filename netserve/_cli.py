"""``python -m netserve``: serve a request handler until SIGINT or SIGTERM.

The command picks a server class from a transport (``--tcp``, ``--udp``, ``--unix``,
``--unix-dgram``) and a concurrency model (``--threading``, the default; ``--forking``;
``--pool N``; ``--sync``), or takes one as is (``--server-class MODULE:CLASS``); ``--attr
NAME=VALUE`` sets server class attributes; ``--tls CERTFILE`` adds TLS to a stream server.
It prints the address it bound, logs one line per request to stderr through the ``netserve``
logger, and on the first SIGINT or SIGTERM stops accepting requests, waits for the running
ones and exits 0. A second signal stops at once, with status 1.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import logging
import os
import signal
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any, Optional, Sequence, Union

from . import (
    AddressError,
    AddressTypeError,
    BaseRequestHandler,
    BaseServer,
    ForkingTCPServer,
    ForkingUDPServer,
    ForkingUnixDatagramServer,
    ForkingUnixStreamServer,
    TCPServer,
    ThreadingTCPServer,
    ThreadingUDPServer,
    ThreadingUnixDatagramServer,
    ThreadingUnixStreamServer,
    ThreadPoolTCPServer,
    ThreadPoolUDPServer,
    ThreadPoolUnixDatagramServer,
    ThreadPoolUnixStreamServer,
    UDPServer,
    UnixDatagramServer,
    UnixStreamServer,
)
from ._echo import UpperCaseDatagramEchoHandler, UpperCaseEchoHandler
from ._tls import TLSMixIn

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9999

_log = logging.getLogger("netserve.cli")

# An IP address as the command line gives it (host, port), or a Unix socket path.
Address = Union["tuple[str, int]", str]

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


def load_tls_context(certfile: str, keyfile: Optional[str] = None) -> ssl.SSLContext:
    """Make a server :class:`ssl.SSLContext` from a PEM certificate chain and its key.

    Args:
        certfile: the certificate chain; it holds the private key too unless ``keyfile``
            is given.
        keyfile: the private key, when it is in a file of its own.

    Returns:
        A context made with ``ssl.PROTOCOL_TLS_SERVER``, TLS 1.2 at least.

    Raises:
        argparse.ArgumentTypeError: naming the file when it cannot be read or holds no
            usable certificate and key.

    Example:
        >>> load_tls_context("missing.pem")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: cannot load certificate 'missing.pem': No such file or directory
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        files = repr(certfile) if keyfile is None else f"{certfile!r} with key {keyfile!r}"
        raise argparse.ArgumentTypeError(
            f"cannot load certificate {files}: "
            f"{exc.reason or 'no pem certificate chain with its private key'}"
        ) from None
    except OSError as exc:
        name = exc.filename if exc.filename is not None else certfile
        raise argparse.ArgumentTypeError(
            f"cannot load certificate {name!r}: {exc.strerror or exc}"
        ) from None
    return context


def parse_host_port(value: str) -> tuple[str, int]:
    """Parse ``HOST:PORT``, ``[IPV6]:PORT`` or a bare ``PORT`` (host 127.0.0.1).

    Args:
        value: the text given on the command line.

    Returns:
        ``(host, port)`` with the brackets of an IPv6 host removed.

    Raises:
        argparse.ArgumentTypeError: naming the value when it is malformed or the port is
            out of range.

    Example:
        >>> parse_host_port("[::1]:8000")
        ('::1', 8000)
        >>> parse_host_port("9999")
        ('127.0.0.1', 9999)
    """
    host, colon, port_text = value.rpartition(":")
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise argparse.ArgumentTypeError(f"expected [IPV6]:PORT, got {value!r}")
        port_text = rest[1:]
    elif not colon:
        host, port_text = DEFAULT_HOST, value
    elif ":" in host:
        raise argparse.ArgumentTypeError(
            f"put an ipv6 host in brackets, as in [::1]:{port_text}: {value!r}"
        )
    if not host:
        raise argparse.ArgumentTypeError(
            f"missing host before the port (0.0.0.0 serves every interface): {value!r}"
        )
    if not (port_text.isascii() and port_text.isdigit()):
        raise argparse.ArgumentTypeError(f"port is not a number: {port_text!r} in {value!r}")
    port = int(port_text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {port} in {value!r}")
    return host, port


def parse_unix_path(value: str) -> str:
    """Parse a Unix socket path; a leading ``@`` names a Linux abstract socket.

    Args:
        value: the text given on the command line.

    Returns:
        The path, or the abstract name with a leading NUL in place of the ``@``.

    Raises:
        argparse.ArgumentTypeError: when the path is empty.

    Example:
        >>> parse_unix_path("@netserve-demo")
        '\\x00netserve-demo'
    """
    if not value or value == "@":
        raise argparse.ArgumentTypeError(f"empty unix socket path: {value!r}")
    if value.startswith("@"):
        return "\0" + value[1:]
    return value


def parse_pool_size(value: str) -> int:
    """Parse the ``--pool`` worker count: a whole number, at least 1.

    Raises:
        argparse.ArgumentTypeError: naming the value.

    Example:
        >>> parse_pool_size("8")
        8
    """
    if not (value.isascii() and value.isdigit()):
        raise argparse.ArgumentTypeError(f"pool size is not a whole number: {value!r}")
    size = int(value)
    if size < 1:
        raise argparse.ArgumentTypeError(f"pool size must be at least 1: {value!r}")
    return size


def parse_attribute(value: str) -> tuple[str, object]:
    """Parse ``--attr NAME=VALUE``: a Python literal if it is one, else the text as a string.

    Raises:
        argparse.ArgumentTypeError: naming the value when NAME is not an identifier.

    Example:
        >>> parse_attribute("max_children=8"), parse_attribute("hub=main")
        (('max_children', 8), ('hub', 'main'))
    """
    name, equals, text = value.partition("=")
    name = name.strip()
    if not equals or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME an identifier: {value!r}")
    try:
        parsed: object = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        parsed = text
    return name, parsed


def _import_attribute(spec: str, what: str) -> object:
    # MODULE:QUALNAME -> the object, or a usage error naming spec.
    module_name, colon, qualname = spec.partition(":")
    if not colon or not module_name or not qualname:
        raise argparse.ArgumentTypeError(f"expected MODULE:{what}, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise argparse.ArgumentTypeError(f"cannot import module {module_name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001  # the module's own code failed: a usage error
        raise argparse.ArgumentTypeError(
            f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    found: Any = module
    for part in qualname.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise argparse.ArgumentTypeError(
                f"module {module_name!r} has no attribute {qualname!r}"
            ) from None
    return found


def load_server_class(spec: str) -> type:
    """Import ``MODULE:CLASS`` and check that it is a socketserver-style server class.

    Any class with ``serve_forever()`` and ``server_close()`` that is called as
    ``Class(server_address, RequestHandlerClass)`` is accepted: netserve's, the
    standard library's, or a subclass of either.

    Raises:
        argparse.ArgumentTypeError: naming ``spec`` when it cannot be imported or is not
            a server class.

    Example:
        >>> load_server_class("netserve:ForkingTCPServer").__name__
        'ForkingTCPServer'
    """
    found = _import_attribute(spec, "CLASS")
    if not isinstance(found, type):
        raise argparse.ArgumentTypeError(
            f"{spec!r} is a {type(found).__name__}, not a server class"
        )
    missing = [
        name
        for name in ("serve_forever", "server_close")
        if not callable(getattr(found, name, None))
    ]
    if missing:
        raise argparse.ArgumentTypeError(
            f"{spec!r} is not a server class: it has no {missing[0]}() method"
        )
    return found


def load_handler(spec: str) -> type:
    """Import ``MODULE:HANDLER`` and check that it is a request handler class.

    ``HANDLER`` may be dotted (``pkg.mod:Outer.Handler``). Any class that can be called as
    ``Handler(request, client_address, server)`` and has a ``handle`` method is accepted, so
    the standard library's ``socketserver`` handlers serve as well as netserve's.

    Args:
        spec: ``MODULE:HANDLER`` as given on the command line.

    Returns:
        The handler class.

    Raises:
        argparse.ArgumentTypeError: naming ``spec`` when the module cannot be imported, has
            no such attribute, or the attribute is not a handler class.

    Example:
        >>> load_handler("netserve:StreamRequestHandler").__name__
        'StreamRequestHandler'
    """
    found = _import_attribute(spec, "HANDLER")
    _check_handler_class(found, spec)
    assert isinstance(found, type)  # checked just above
    return found


def _check_handler_class(found: object, spec: str) -> None:
    if not isinstance(found, type):
        raise argparse.ArgumentTypeError(
            f"{spec!r} is a {type(found).__name__}, not a request handler class"
        )
    if issubclass(found, BaseRequestHandler):
        return
    try:
        inspect.signature(found).bind(None, None, None)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{spec!r} is not a request handler class: "
            f"it cannot be called as {found.__qualname__}(request, client_address, server)"
        ) from None
    if not callable(getattr(found, "handle", None)):
        raise argparse.ArgumentTypeError(
            f"{spec!r} is not a request handler class: it has no handle() method"
        )


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
        >>> server = make_server(parse_options(["--tcp", "127.0.0.1:0"]))
        >>> type(server).__name__
        'ThreadingTCPServer'
        >>> server.server_close()
    """
    base = options.server_class or _SERVER_CLASSES[options.transport, options.concurrency]
    attributes: dict[str, object] = {"__module__": __name__}
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


def _describe_concurrency(options: Options) -> str:
    tls = ", tls" if options.ssl_context is not None else ""
    if options.concurrency == "pool":
        return f"pool of {options.pool_size} threads{tls}"
    if options.concurrency == "sync":
        return f"one request at a time{tls}"
    if options.server_class is not None:
        return _public_name(options.server_class) + tls
    return options.concurrency + tls


def _public_name(cls: type) -> str:
    # "netserve.ForkingTCPServer" rather than the private module that defines it.
    module = cls.__module__
    package = sys.modules.get(module.split(".")[0])
    if getattr(package, cls.__qualname__, None) is cls:
        module = module.split(".")[0]
    return f"{module}.{cls.__qualname__}"


class _SignalStopper:
    # Installed for SIGINT and SIGTERM while serving. The first signal only asks
    # serve_forever() to stop (request_shutdown() never blocks, so it is safe in a signal
    # handler running on the serving thread) and records the signal's name; no I/O here.
    # A second signal raises KeyboardInterrupt to abandon waiting for running requests.

    def __init__(self, server: BaseServer) -> None:
        self.server = server
        self.received: Optional[str] = None
        self._pid = os.getpid()

    def __call__(self, signum: int, frame: Optional[FrameType]) -> None:
        if os.getpid() != self._pid:
            # A --forking child inherited this handler. SIGTERM sent to it ends it as by
            # default; SIGINT, which a terminal sends to the whole group, is the parent's
            # to act on, and the child's running request is left to finish.
            if signum == signal.SIGTERM:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
            return
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        request_shutdown = getattr(self.server, "request_shutdown", None)
        if request_shutdown is not None:
            request_shutdown()
        else:
            # A socketserver class: its loop sees the flag within its poll_interval.
            self.server._BaseServer__shutdown_request = True  # type: ignore[attr-defined]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def serve(options: Options, out: Any = None) -> int:
    """Serve until SIGINT or SIGTERM, then shut down cleanly; return the exit status.

    Must run in the main thread (it installs signal handlers, and restores the previous
    ones before returning). Prints the bound address when it starts and a summary when it
    stops; each request is logged through the ``netserve.cli`` logger.

    Args:
        options: what to serve, from :func:`parse_options`.
        out: where the start and stop lines go; None means ``sys.stdout``.

    Returns:
        0 after a clean shutdown, 1 when the server could not bind. After a second signal
        the process exits at once with status 1, without waiting for running requests.

    Example:
        >>> serve(parse_options(["--tcp", "127.0.0.1:0"]))  # doctest: +SKIP
        netserve: serving UpperCaseEchoHandler on tcp 127.0.0.1:40313 (threading)
        ...
    """
    stream = sys.stdout if out is None else out
    where = f"{options.transport} {format_address(options.transport, options.address)}"
    try:
        server = make_server(options)
    except socket.gaierror:
        raise  # an unknown host is a usage error: main() reports it
    except OSError as exc:
        print(f"netserve: cannot serve on {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    stopper = _SignalStopper(server)
    previous = {sig: signal.signal(sig, stopper) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        where = f"{options.transport} {format_address(options.transport, server.server_address)}"
        handler_name = options.handler.__qualname__
        print(
            f"netserve: serving {handler_name} on {where} ({_describe_concurrency(options)})",
            file=stream,
            flush=True,
        )
        server.serve_forever()
        print(
            f"netserve: received {stopper.received or 'shutdown'}, "
            "waiting for running requests to finish",
            file=stream,
            flush=True,
        )
        server.server_close()
    except KeyboardInterrupt:
        _abandon(server, stream)
    except BaseException:
        server.server_close()  # e.g. a sync handler raised SystemExit: still release the socket
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    count = getattr(server, "request_count", 0)
    print(f"netserve: shut down after {_plural(count, 'request')}", file=stream, flush=True)
    return 0


def _abandon(server: BaseServer, stream: Any) -> None:
    # Second signal: close without waiting for running requests (block_on_close is read by
    # the mix-ins' server_close), then leave at once: running handler threads are not
    # daemons, and interpreter shutdown would otherwise wait for them.
    server.block_on_close = False  # type: ignore[attr-defined]
    server.server_close()
    count = getattr(server, "request_count", 0)
    print(
        f"netserve: stopped after {_plural(count, 'request')} without waiting for running requests",
        file=stream,
        flush=True,
    )
    sys.stderr.flush()
    os._exit(1)


def _configure_logging() -> tuple[logging.Handler, int, bool]:
    logger = logging.getLogger("netserve")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    saved = (handler, logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return saved


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``python -m netserve`` with ``argv``; return the exit status.

    Args:
        argv: the arguments, without the program name; None reads ``sys.argv``.

    Returns:
        0 after a clean shutdown, 1 if the server could not bind. Usage errors raise
        ``SystemExit(2)`` after printing the usage and the offending value.

    Example:
        >>> main(["--tcp", "127.0.0.1:0", "examples.tcp_server:MyTCPHandler"])  # doctest: +SKIP
    """
    parser = build_parser()
    options = parse_options(argv)
    handler, level, propagate = _configure_logging()
    try:
        return serve(options)
    except (AddressError, AddressTypeError) as exc:
        parser.error(f"argument --{options.transport}: {exc}")
    except ValueError as exc:
        parser.error(f"the server class rejected a setting: {exc}")
    except socket.gaierror as exc:
        host = options.address[0] if isinstance(options.address, tuple) else options.address
        parser.error(
            f"argument --{options.transport}: cannot resolve host {host!r}: {exc.strerror}"
        )
    finally:
        logger = logging.getLogger("netserve")
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
