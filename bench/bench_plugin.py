"""Per-test cost of a fresh real server: netserve's harness vs the stdlib by hand, and via pytest.

Run: ``python bench/bench_plugin.py [--runs N]``. Each measured cycle is what a
function-scoped fixture does for one test: start a server on port 0 (or a
fresh Unix path), one request/response over a real connection, full teardown
(shutdown, close, join, reap, leak checks for the harness). The TLS rows do
the same over TLS (handshake included; the CA and keys are made once, before the
timing), and the ratio line compares each with its plaintext kind (goal: at most
2x); each TLS kind is measured interleaved with its plaintext kind, so a load
that comes and goes on the machine weighs on both alike. The last line runs 200
tests that each start their own server, through pytest in a subprocess.
"""

from __future__ import annotations

import argparse
import os
import socket
import socketserver
import ssl
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from typing import Callable, List, Sequence, Tuple

from netserve_testing import ServerFactory, session_ca


class Upper(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(self.rfile.readline().upper())


class DatagramUpper(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)


def harness_cycle(kind: str, backend: str = "netserve") -> Callable[[], None]:
    def cycle() -> None:
        with ServerFactory(backend=backend) as factory:
            server = factory.serve(
                Upper if "dgram" not in kind and "udp" not in kind else DatagramUpper, kind
            )
            client = server.connect()
            if server.is_stream:
                client.send_line("hi").expect_line("HI")
            else:
                client.send(b"hi").expect(b"HI")

    return cycle


def stdlib_by_hand() -> None:
    # What a test writes today: the stdlib server, default poll_interval (0.5 s).
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Upper)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    with socket.create_connection(server.server_address[:2]) as sock:
        sock.sendall(b"hi\n")
        assert sock.makefile("rb").readline() == b"HI\n"
    server.shutdown()
    server.server_close()
    thread.join()


def tls_handshake_in_memory() -> None:
    # The floor of what TLS adds to a test: one full handshake's CPU, client and server
    # sides (the contexts of the tls-* kinds), with no socket, thread or round trip.
    ca = session_ca()
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = ca.shared_client_context().wrap_bio(client_in, client_out, server_hostname="localhost")
    server = ca.server_context().wrap_bio(server_in, server_out, server_side=True)
    pending = [client, server]
    while pending:
        for side, wire, peer_in in (
            (client, client_out, server_in),
            (server, server_out, client_in),
        ):
            if side in pending:
                try:
                    side.do_handshake()
                    pending.remove(side)
                except ssl.SSLWantReadError:
                    pass
            peer_in.write(wire.read())


def measure(cycles: Sequence[Callable[[], None]], runs: int) -> List[List[float]]:
    # Several cycles are interleaved (a, b, a, b...): a load that comes and goes on the
    # machine then weighs on each alike, and their ratio holds still.
    for cycle in cycles:
        cycle()  # warm up imports and caches
    times: List[List[float]] = [[] for _ in cycles]
    for _ in range(runs):
        for cycle, row in zip(cycles, times):
            start = time.perf_counter()
            cycle()
            row.append(time.perf_counter() - start)
    return times


PYTEST_FILE = textwrap.dedent(
    """
    import socketserver
    import pytest

    class Upper(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(self.rfile.readline().upper())

    @pytest.mark.parametrize("n", range(200))
    def test_fresh_server(netserve, n):
        netserve.serve(Upper).connect().send_line("hi").expect_line("HI")
    """
)


def pytest_200() -> float:
    with tempfile.TemporaryDirectory(prefix="ns-bench-") as directory:
        path = os.path.join(directory, "test_fresh.py")
        with open(path, "w") as file:
            file.write(PYTEST_FILE)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"pytest run failed:\n{done.stdout}\n{done.stderr}")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="cycles per row (default 200)")
    args = parser.parse_args()
    session_ca().server_context()  # the CA and keys: once per session, outside the timing
    runs, few = args.runs, max(10, args.runs // 4)
    # Each group is measured interleaved; a TLS kind beside its plaintext kind.
    groups: List[Tuple[List[Tuple[str, Callable[[], None]]], int]] = [
        ([(f"netserve {kind} (harness)", harness_cycle(kind))], count)
        for kind, count in (("udp-threading", runs), ("unix_stream-threading", runs))
    ]
    for concurrency in ("threading", "sync", "pool", "forking"):
        pair = [f"tcp-{concurrency}", f"tls-{concurrency}"]
        count = few if concurrency == "forking" else runs
        groups.append(
            ([(f"netserve {kind} (harness)", harness_cycle(kind)) for kind in pair], count)
        )
    stdlib = harness_cycle("tcp-threading", "socketserver")
    groups.append(([("stdlib ThreadingTCPServer (harness)", stdlib)], runs))
    in_memory = "tls 1.3 handshake alone, in memory (cpu)"
    groups.append(([(in_memory, tls_handshake_in_memory)], runs))
    by_hand = "stdlib ThreadingTCPServer by hand, poll 0.5 s"
    groups.append(([(by_hand, stdlib_by_hand)], max(5, runs // 20)))
    print(f"{'per-test server (setup + 1 request + teardown)':48} {'median':>9} {'p90':>9} runs")
    medians = {}
    for rows, count in groups:
        measured = measure([cycle for _, cycle in rows], count)
        for (name, _), times in zip(rows, measured):
            times.sort()
            median = statistics.median(times) * 1000
            medians[name] = median
            p90 = times[int(len(times) * 0.9) - 1] * 1000
            print(f"{name:48} {median:7.2f}ms {p90:7.2f}ms {count}")
    print()
    floor = medians[in_memory]
    for concurrency in ("threading", "sync", "pool", "forking"):
        tls = medians[f"netserve tls-{concurrency} (harness)"]
        plain = medians[f"netserve tcp-{concurrency} (harness)"]
        verdict = "met" if tls <= 2 * plain else "NOT met"
        print(
            f"{f'tls-{concurrency} / tcp-{concurrency} (median)':48} {tls / plain:7.2f}x "
            f"(goal <= 2x: {verdict}; tls adds {tls - plain:.2f} ms, "
            f"its handshake's cpu alone {floor:.2f} ms)"
        )
    print()
    elapsed = pytest_200()
    print(f"{'200 tests, each its own server, through pytest':48} {elapsed:8.2f}s (whole run)")


if __name__ == "__main__":
    main()
