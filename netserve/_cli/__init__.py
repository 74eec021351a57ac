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

from ._options import (
    DATAGRAM_TRANSPORTS,
    UNIX_TRANSPORTS,
    Address,
    Options,
    build_parser,
    parse_options,
)
from ._run import main, serve
from ._server import format_address, format_client_address, make_server
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

# The wing's modules, in the one direction they import each other: _run (serve until a
# signal, main) -> _server (build the server, log requests) -> _options (the parser and
# Options) -> _values (one command-line value each).

__all__ = [
    "DATAGRAM_TRANSPORTS",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "UNIX_TRANSPORTS",
    "Address",
    "Options",
    "build_parser",
    "format_address",
    "format_client_address",
    "load_handler",
    "load_server_class",
    "load_tls_context",
    "main",
    "make_server",
    "parse_attribute",
    "parse_host_port",
    "parse_options",
    "parse_pool_size",
    "parse_unix_path",
    "serve",
]
