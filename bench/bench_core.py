"""Benchmark netserve beside the standard library's socketserver, in one run, on loopback.

Measures, for both libraries with the same handlers:

- ``shutdown()`` latency with the default ``poll_interval`` (0.5 s): the time ``shutdown()``
  takes right after a request, while ``serve_forever()`` is idle (median and p90);
- a whole cycle: bind port 0, start ``serve_forever()`` in a thread, one request,
  ``shutdown()``, ``server_close()`` (median and p90; also with ``poll_interval=0.01``);
- request rates under ``ThreadingMixIn``: TCP with a new connection per request, many round
  trips on one TCP connection, and UDP request/reply;
- the same rates for netserve's ``ThreadPool*`` servers, against the stdlib's ``Threading*``;
- a flood: hundreds of connections at once against netserve's pool of 2 workers (its queue
  bounded by ``max_queued``) and the stdlib's ``ThreadingTCPServer`` (no pool there): the
  connections the server process holds, and the time ``shutdown()`` + ``server_close()``
  takes right after;
- ``shutdown()`` of a forking server at ``max_children`` while its child is busy;
- ``import`` time in a fresh interpreter with cached bytecode (CPU time of the import
  statement), ``import netserve`` against ``import socketserver``.

The stdlib's ``shutdown()`` waits for its next poll, about half a second per sample, so its
sample counts are bounded separately (``--stdlib-samples``). Usage::

    python bench/bench_core.py            # about 25 s
    python bench/bench_core.py --quick    # a few seconds: a smoke run, figures are noisy
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Optional

import netserve

HOST = "127.0.0.1"
CLIENT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Row:
    """One line of the table: a measurement for each library and how to compare them."""

    name: str
    stdlib: float
    netserve: float
    unit: str  # "ms" and "fds": lower is better; "req/s": higher is better

    def speedup(self) -> float:
        """How many times better netserve is (above 1: netserve is better)."""
        if self.unit in ("ms", "fds"):
            return self.stdlib / self.netserve if self.netserve else math.inf
        return self.netserve / self.stdlib if self.stdlib else math.inf


@dataclass(frozen=True)
class Library:
    """A socketserver implementation and the echo handlers written against it."""

    name: str
    module: Any
    one_shot: type  # reads one line, replies, returns (the documentation's examples)
    finished: threading.Event  # set by one_shot's finish()
    line_echo: type  # echoes lines until the client closes
    datagram_echo: type


def make_library(name: str, module: ModuleType) -> Library:
    """Build the echo handlers on ``module``'s own handler classes."""
    finished = threading.Event()

    class OneShot(module.StreamRequestHandler):  # type: ignore[name-defined,misc]
        def handle(self) -> None:
            self.wfile.write(self.rfile.readline())

        def finish(self) -> None:
            super().finish()
            finished.set()

    class LineEcho(module.StreamRequestHandler):  # type: ignore[name-defined,misc]
        # Echoes each line until the client closes: serves both one request per
        # connection and many round trips on one connection.
        def handle(self) -> None:
            for line in self.rfile:
                self.wfile.write(line)

    class DatagramEcho(module.BaseRequestHandler):  # type: ignore[name-defined,misc]
        def handle(self) -> None:
            data, sock = self.request
            sock.sendto(data, self.client_address)

    return Library(name, module, OneShot, finished, LineEcho, DatagramEcho)


@contextmanager
def serving(server_class: type, handler: type, poll_interval: float = 0.5) -> Iterator[Any]:
    """Run ``server_class`` on a free loopback port in a thread; stop and close it after."""
    server = server_class((HOST, 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(CLIENT_TIMEOUT)
        server.server_close()


def tcp_round_trip(address: tuple[str, int], payload: bytes = b"ping\n") -> None:
    """One request on a new connection: send a line, read it back, close."""
    with socket.create_connection(address, timeout=CLIENT_TIMEOUT) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"server closed after {received!r}")
            received += chunk


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ``samples`` (``fraction`` in 0..1)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def shutdown_latencies(lib: Library, samples: int, settle: float) -> list[float]:
    """``shutdown()`` durations (ms) with serve_forever() idle, default poll_interval.

    Each sample serves one request, waits for its handler to finish, then ``settle``
    seconds more so that serve_forever() is back waiting for the next request.
    """
    durations = []
    for _ in range(samples):
        server = lib.module.TCPServer((HOST, 0), lib.one_shot)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            lib.finished.clear()
            tcp_round_trip(server.server_address)  # serve_forever() is in its loop
            if not lib.finished.wait(CLIENT_TIMEOUT):
                raise TimeoutError("the handler did not finish")
            time.sleep(settle)
            started = time.perf_counter()
            server.shutdown()
            durations.append((time.perf_counter() - started) * 1000)
        finally:
            thread.join(CLIENT_TIMEOUT)
            server.server_close()
    return durations


def cycle_durations(lib: Library, samples: int, poll_interval: float) -> list[float]:
    """Durations (ms) of bind port 0 + start + one request + shutdown() + server_close()."""
    durations = []
    for _ in range(samples):
        started = time.perf_counter()
        server = lib.module.TCPServer((HOST, 0), lib.one_shot)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
        )
        thread.start()
        try:
            tcp_round_trip(server.server_address)
            server.shutdown()
            thread.join(CLIENT_TIMEOUT)
        finally:
            server.server_close()
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def in_clients(clients: int, requests: int, work: Callable[[int], None]) -> float:
    """Run ``work(n)`` in ``clients`` threads sharing ``requests``; return requests/s."""
    shares = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    errors: list[BaseException] = []

    def client(share: int) -> None:
        try:
            work(share)
        except BaseException as exc:  # noqa: BLE001  # re-raised below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed, first: {errors[0]!r}")
    return requests / elapsed


def tcp_connection_rate(server_class: type, lib: Library, requests: int, clients: int) -> float:
    """Requests/s with a new TCP connection per request, from ``clients`` threads."""
    with serving(server_class, lib.line_echo) as server:
        address = server.server_address

        def work(count: int) -> None:
            for _ in range(count):
                tcp_round_trip(address)

        return in_clients(clients, requests, work)


def single_connection_rate(server_class: type, lib: Library, requests: int) -> float:
    """Round trips/s of one line each on a single TCP connection."""
    with serving(server_class, lib.line_echo) as server:
        with socket.create_connection(server.server_address, timeout=CLIENT_TIMEOUT) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = sock.makefile("rb")
            try:
                started = time.perf_counter()
                for _ in range(requests):
                    sock.sendall(b"ping\n")
                    if reader.readline() != b"ping\n":
                        raise ConnectionError("bad or missing echo")
                elapsed = time.perf_counter() - started
            finally:
                reader.close()
        return requests / elapsed


def udp_rate(server_class: type, lib: Library, requests: int, clients: int) -> float:
    """Request/reply datagrams per second from ``clients`` threads, each its own socket."""
    with serving(server_class, lib.datagram_echo) as server:
        address = server.server_address

        def work(count: int) -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(1.0)
                for number in range(count):
                    payload = str(number).encode()
                    for _attempt in range(5):  # loopback rarely drops; never hang on it
                        sock.sendto(payload, address)
                        try:
                            if sock.recv(64) == payload:
                                break
                        except socket.timeout:
                            continue
                    else:
                        raise TimeoutError(f"no reply to datagram {number}")

        return in_clients(clients, requests, work)


def interleaved(
    repeat: int, measure_stdlib: Callable[[], float], measure_netserve: Callable[[], float]
) -> tuple[float, float]:
    """Medians of ``repeat`` alternating runs, so that load drift hits both alike."""
    stdlib, ours = [], []
    for _ in range(repeat):
        stdlib.append(measure_stdlib())
        ours.append(measure_netserve())
    return statistics.median(stdlib), statistics.median(ours)


def run(args: argparse.Namespace) -> list[Row]:
    """Run every benchmark for both libraries and return the table rows."""
    std = make_library("stdlib", socketserver)
    ns = make_library("netserve", netserve)
    rows: list[Row] = []

    def progress(text: str) -> None:
        print(f"  {text}...", file=sys.stderr, flush=True)

    progress("shutdown() latency")
    std_shutdown = shutdown_latencies(std, args.stdlib_samples, args.settle)
    ns_shutdown = shutdown_latencies(ns, args.samples, args.settle)
    rows.append(
        Row(
            "shutdown() latency, median",
            statistics.median(std_shutdown),
            statistics.median(ns_shutdown),
            "ms",
        )
    )
    rows.append(
        Row(
            "shutdown() latency, p90",
            percentile(std_shutdown, 0.9),
            percentile(ns_shutdown, 0.9),
            "ms",
        )
    )

    progress("start/request/stop cycles")
    std_cycle = cycle_durations(std, args.stdlib_samples, 0.5)
    ns_cycle = cycle_durations(ns, args.samples, 0.5)
    rows.append(Row("bind+request+shutdown+close, median", *_medians(std_cycle, ns_cycle), "ms"))
    rows.append(
        Row(
            "bind+request+shutdown+close, p90",
            percentile(std_cycle, 0.9),
            percentile(ns_cycle, 0.9),
            "ms",
        )
    )
    std_fast = cycle_durations(std, args.samples, 0.01)
    ns_fast = cycle_durations(ns, args.samples, 0.01)
    rows.append(Row("  same, poll_interval=0.01, median", *_medians(std_fast, ns_fast), "ms"))

    n, c, r = args.requests, args.clients, args.repeat
    rates: list[tuple[str, type, type, Callable[[type, Library], float]]] = [
        (
            "TCP new connection/request, threading",
            socketserver.ThreadingTCPServer,
            netserve.ThreadingTCPServer,
            lambda cls, lib: tcp_connection_rate(cls, lib, n, c),
        ),
        (
            "TCP round trips, one connection, threading",
            socketserver.ThreadingTCPServer,
            netserve.ThreadingTCPServer,
            lambda cls, lib: single_connection_rate(cls, lib, n),
        ),
        (
            "UDP request/reply, threading",
            socketserver.ThreadingUDPServer,
            netserve.ThreadingUDPServer,
            lambda cls, lib: udp_rate(cls, lib, n, c),
        ),
        (
            "TCP new connection/request, pool",
            socketserver.ThreadingTCPServer,
            netserve.ThreadPoolTCPServer,
            lambda cls, lib: tcp_connection_rate(cls, lib, n, c),
        ),
        (
            "TCP round trips, one connection, pool",
            socketserver.ThreadingTCPServer,
            netserve.ThreadPoolTCPServer,
            lambda cls, lib: single_connection_rate(cls, lib, n),
        ),
        (
            "UDP request/reply, pool",
            socketserver.ThreadingUDPServer,
            netserve.ThreadPoolUDPServer,
            lambda cls, lib: udp_rate(cls, lib, n, c),
        ),
    ]
    for name, std_class, ns_class, measure in rates:
        progress(name)
        std_rate, ns_rate = interleaved(
            r,
            lambda: measure(std_class, std),  # noqa: B023  # called before the next iteration
            lambda: measure(ns_class, ns),  # noqa: B023
        )
        rows.append(Row(name, std_rate, ns_rate, "req/s"))

    progress(f"flood of {args.flood} connections")
    std_flood = flood(socketserver.ThreadingTCPServer, std, args.flood, args.flood_hold)
    ns_flood = flood(FloodPool, ns, args.flood, args.flood_hold)
    rows.append(Row(f"flood, {args.flood} conns: fds held (pool: 2 workers)",
                    std_flood[0], ns_flood[0], "fds"))  # fmt: skip
    rows.append(Row("  then shutdown()+server_close()", std_flood[1], ns_flood[1], "ms"))

    if hasattr(os, "fork"):
        progress("forking shutdown() at max_children")
        std_fork = [forking_shutdown_at_bound(socketserver, args.hold) for _ in range(r)]
        ns_fork = [forking_shutdown_at_bound(netserve, args.hold) for _ in range(r)]
        rows.append(Row("forking shutdown() at max_children, median",
                        *_medians(std_fork, ns_fork), "ms"))  # fmt: skip

    progress("import time")
    std_import, ns_import = import_times(args.imports)
    rows.append(Row("import, fresh interpreter, CPU median", std_import, ns_import, "ms"))
    return rows


class FloodPool(netserve.ThreadPoolTCPServer):
    """netserve's pool as the flood meets it: 2 workers, the default ``max_queued``."""

    max_workers = 2


def _open_fd_count() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def flood(server_class: type, lib: Library, connections: int, hold: float) -> tuple[float, float]:
    """Connect ``connections`` clients at once to a handler that works ``hold`` seconds each.

    Returns the most descriptors the server held while the clients connected and for
    ``hold`` seconds after (its own and the accepted connections: the process's count
    less the clients', sampled every millisecond), and the time of ``shutdown()`` +
    ``server_close()`` right after, in ms.
    """

    class Work(lib.module.BaseRequestHandler):  # type: ignore[name-defined,misc]
        def handle(self) -> None:
            time.sleep(hold)
            self.request.sendall(b"done")

    flood_class = type("Flood", (server_class,), {"request_queue_size": connections + 16})
    before = _open_fd_count()
    server = flood_class((HOST, 0), Work)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    clients: list[socket.socket] = []
    peak = [0]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.001):
            peak[0] = max(peak[0], _open_fd_count() - before - len(clients))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        for _ in range(connections):
            clients.append(socket.create_connection(server.server_address, CLIENT_TIMEOUT))
        time.sleep(hold)  # the flood goes on: the first requests are still being worked
        sampling.set()
        sampler.join()
        started = time.perf_counter()
        server.shutdown()
        server.server_close()
        closed = (time.perf_counter() - started) * 1000
        thread.join(CLIENT_TIMEOUT)
    finally:
        sampling.set()
        for client in clients:
            client.close()
    return float(peak[0]), closed


def forking_shutdown_at_bound(module: ModuleType, hold: float) -> float:
    """``shutdown()`` (ms) of a forking server at ``max_children = 1`` whose child is busy.

    The child says ready, then works ``hold`` seconds; ``shutdown()`` is timed from then.
    """

    class Busy(module.BaseRequestHandler):  # type: ignore[name-defined,misc]
        def handle(self) -> None:
            self.request.sendall(b"ready")
            time.sleep(hold)

    server_class = type("Bound", (module.ForkingTCPServer,), {"max_children": 1})
    server = server_class((HOST, 0), Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(server.server_address, CLIENT_TIMEOUT) as client:
            client.recv(5)
            started = time.perf_counter()
            server.shutdown()
            took = (time.perf_counter() - started) * 1000
            client.shutdown(socket.SHUT_RDWR)
        thread.join(CLIENT_TIMEOUT)
    finally:
        server.server_close()
    return took


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_times(runs: int) -> tuple[float, float]:
    """Median ``import`` time (ms of CPU) of socketserver and of netserve.

    Each run is a fresh ``python -S`` (no site: only the import itself) that times its
    import with ``time.process_time()``: CPU time, which other processes on a busy
    machine do not inflate as they do wall time. Bytecode is cached in a private prefix
    by a warm-up run of each; the runs alternate.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as cache:
        env["PYTHONPYCACHEPREFIX"] = cache

        def once(module: str) -> float:
            code = (
                f"import sys, time; sys.path.insert(0, {ROOT!r}); "
                f"started = time.process_time(); import {module}; "
                "print(time.process_time() - started)"
            )
            completed = subprocess.run(
                [sys.executable, "-S", "-c", code],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            return float(completed.stdout) * 1000

        once("socketserver")
        once("netserve")
        return interleaved(runs, lambda: once("socketserver"), lambda: once("netserve"))


def _medians(stdlib: Sequence[float], ours: Sequence[float]) -> tuple[float, float]:
    return statistics.median(stdlib), statistics.median(ours)


def _format_value(value: float, unit: str) -> str:
    if unit == "fds":
        return f"{value:,.0f} fds"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"
    return f"{value:,.0f} req/s"


def _format_speedup(speedup: float) -> str:
    return f"{speedup:,.0f}x" if speedup >= 100 else f"{speedup:.2f}x"


def format_table(rows: Sequence[Row]) -> str:
    """Render the rows; ``speed-up`` above 1 means netserve is better."""
    header = ("benchmark", "stdlib", "netserve", "speed-up")
    cells = [header] + [
        (
            row.name,
            _format_value(row.stdlib, row.unit),
            _format_value(row.netserve, row.unit),
            _format_speedup(row.speedup()),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(4)]
    lines = []
    for number, line in enumerate(cells):
        lines.append(
            "  ".join(
                [line[0].ljust(widths[0])]
                + [cell.rjust(widths[i]) for i, cell in enumerate(line) if i]
            )
        )
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def environment(args: argparse.Namespace) -> str:
    """Describe the machine, the interpreter and the sample sizes."""
    return "\n".join(
        [
            f"python {platform.python_version()} ({platform.python_implementation()}), "
            f"{platform.platform()}, cpu count {os.cpu_count()}",
            f"netserve {netserve.__version__} vs socketserver (stdlib), loopback {HOST}",
            f"samples: netserve {args.samples}, stdlib {args.stdlib_samples} "
            f"(shutdown, cycle); rates: {args.requests} requests, {args.clients} clients, "
            f"median of {args.repeat}",
        ]
    )


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line; ``--quick`` shrinks every count for a smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    parser.add_argument("--samples", type=int, help="netserve shutdown/cycle samples (default 200)")
    parser.add_argument(
        "--stdlib-samples",
        type=int,
        help="stdlib shutdown/cycle samples, ~0.5 s each with poll_interval 0.5 (default 10)",
    )
    parser.add_argument("--requests", type=int, help="requests per rate run (default 1000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--repeat", type=int, help="rate runs per library (default 3)")
    parser.add_argument("--flood", type=int, help="connections in the flood (default 300)")
    parser.add_argument(
        "--flood-hold",
        type=float,
        default=0.05,
        help="seconds each flood request works (default 0.05)",
    )
    parser.add_argument(
        "--hold",
        type=float,
        help="seconds the busy forked child works (default 0.5)",
    )
    parser.add_argument("--imports", type=int, help="fresh interpreters per library (default 20)")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.02,
        help="idle seconds before each timed shutdown() (default 0.02)",
    )
    args = parser.parse_args(argv)
    defaults = {
        "samples": 200,
        "stdlib_samples": 10,
        "requests": 1000,
        "repeat": 3,
        "flood": 300,
        "hold": 0.5,
        "imports": 20,
    }
    if args.quick:
        defaults = {
            "samples": 10,
            "stdlib_samples": 1,
            "requests": 100,
            "repeat": 1,
            "flood": 50,
            "hold": 0.05,
            "imports": 2,
        }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("samples", "stdlib_samples", "requests", "clients", "repeat", "flood", "imports"):
        if getattr(args, name) < 1:
            parser.error(f"argument --{name.replace('_', '-')}: must be at least 1")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmarks and print the environment and the table."""
    args = parse_args(argv)
    print(environment(args), flush=True)
    rows = run(args)
    print()
    print(format_table(rows))
    print("\nspeed-up: how many times better netserve is (shorter time, or more requests/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
