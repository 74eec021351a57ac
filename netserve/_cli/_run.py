"""Running ``python -m netserve``: serve until SIGINT or SIGTERM, shut down cleanly, exit."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from types import FrameType
from typing import Any, Optional, Sequence

from .._base import BaseServer
from .._errors import AddressError, AddressTypeError
from ._options import Options, build_parser, parse_options
from ._server import format_address, make_server


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
