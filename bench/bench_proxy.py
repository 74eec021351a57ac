"""Round trips through a FaultProxy with no faults, beside the same round trips made directly.

Run: ``python bench/bench_proxy.py [--seconds S] [--size N]``. One client keeps one
connection open and sends ``size`` bytes, waits for the echo, again and again for
``seconds``; the rate and the time per round trip are printed for a direct
connection and for one through the proxy, with the latency the proxy adds and
the rate ratio, overall and at the median round trip (goal: under 100 us added, at
least half the direct rate). On a busy machine the overall rates are dominated by
scheduling stalls; the medians are steadier. Three
setups: all in one process (server thread, client, proxy thread share the GIL, as
in a test), the server in a forked child, and the client in a forked child too
(the proxy alone in this process: its own cost), where a bare epoll/recv/send relay
thread shows the floor of any relay written in Python.
Then a short row with ``Latency(0.001)`` shows the timers' precision.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import socket
import socketserver
import statistics
import threading
import time
import warnings
from typing import Any, Dict, List, Tuple

from netserve_testing import FaultProxy, Latency, TCPClient, serve


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data = sock.recv(65536)
            if not data:
                return
            sock.sendall(data)


def round_trips(address: Any, seconds: float, size: int) -> Tuple[int, float, List[float]]:
    """Round trips made in ``seconds``: count, elapsed time, and a sample of each one's time."""
    payload = b"x" * size
    samples: List[float] = []
    # A kit client's socket: a forked server child closes its copy (else it never sees EOF).
    with TCPClient(address) as client:
        sock = client.sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(200):  # warm up
            _echo(sock, payload)
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        now = start
        while now < deadline:
            _echo(sock, payload)
            count += 1
            later = time.perf_counter()
            samples.append(later - now)
            now = later
        return count, now - start, samples


def round_trips_in_child(address: Any, seconds: float, size: int) -> Tuple[int, float, List[float]]:
    """round_trips() in a forked child: the proxy's thread then has this process to itself."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads running
        pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        try:
            count, elapsed, samples = round_trips(address, seconds, size)
            os.write(write_end, json.dumps([count, elapsed, statistics.median(samples)]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        count, elapsed, median = json.loads(pipe.read())
    os.waitpid(pid, 0)
    return count, elapsed, [median]


class BareRelay:
    """The least a proxy thread in Python can do: epoll, recv, send; no faults, no records.

    Shown as the floor of a Python relay on this machine, beside FaultProxy.
    """

    def __init__(self, target: Any) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.address = self.listener.getsockname()
        self.target = target
        self.epoll = select.epoll()
        self.epoll.register(self.listener.fileno(), select.EPOLLIN)
        self.socks: Dict[int, socket.socket] = {}
        self.peers: Dict[int, socket.socket] = {}
        self.stopping = False
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping:
            for fd, _ in self.epoll.poll(0.05):
                if fd == self.listener.fileno():
                    self.accept()
                    continue
                data = self.socks[fd].recv(65536)
                if data:
                    self.peers[fd].send(data)
                else:
                    self.epoll.unregister(fd)
        for sock in self.socks.values():
            # shutdown() reaches the other side even where a forked child holds a copy.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.listener.close()
        self.epoll.close()

    def accept(self) -> None:
        conn, _ = self.listener.accept()
        upstream = socket.create_connection(self.target)
        for sock in (conn, upstream):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks[sock.fileno()] = sock
            self.epoll.register(sock.fileno(), select.EPOLLIN)
        self.peers[conn.fileno()] = upstream
        self.peers[upstream.fileno()] = conn

    def close(self) -> None:
        self.stopping = True
        self.thread.join()


def _echo(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(payload)
    got = 0
    while got < len(payload):
        data = sock.recv(65536)
        if not data:
            raise SystemExit("the echo server closed the connection")
        got += len(data)


def row(name: str, count: int, elapsed: float, samples: List[float]) -> Tuple[float, float]:
    rate = count / elapsed
    median = statistics.median(samples) * 1e6
    print(f"{name:52} {rate:10.0f}/s {median:9.1f} us")
    return rate, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="per row (default 2)")
    parser.add_argument("--size", type=int, default=64, help="bytes per message (default 64)")
    args = parser.parse_args()
    title = f"one connection, echo of {args.size} bytes"
    print(f"{title:52} {'rate':>12} {'median RTT':>12}")
    setups = (
        ("tcp-threading", "all in one process", round_trips),
        ("tcp-forking", "server in a child", round_trips),
        ("tcp-forking", "server, client in children", round_trips_in_child),
    )
    for kind, where, measure in setups:
        with serve(Echo, kind) as server:
            direct = row(f"direct, {where}", *measure(server.address, args.seconds, args.size))
            with FaultProxy(server.address) as proxy:
                proxied = row(
                    f"FaultProxy (no faults), {where}",
                    *measure(proxy.address, args.seconds, args.size),
                )
            print(
                f"{'  -> proxy / direct':52} {proxied[0] / direct[0]:10.2f}x   "
                f"({direct[1] / proxied[1]:.2f}x at the median RTT), "
                f"added {proxied[1] - direct[1]:.1f} us per round trip (median)"
            )
            if measure is round_trips_in_child and hasattr(select, "epoll"):
                relay = BareRelay(server.address)
                try:
                    row(
                        f"bare epoll relay (floor), {where}",
                        *measure(relay.address, args.seconds, args.size),
                    )
                finally:
                    relay.close()
    with serve(Echo, "tcp-forking") as server:
        latency = Latency(0.001, direction="both")
        with FaultProxy(server.address, latency) as proxy:
            row("Latency(0.001) both ways, server in a child", *round_trips(proxy.address, 1, 64))


if __name__ == "__main__":
    main()
