"""Handler runs per second: in memory with run_handler vs a real threaded server on loopback.

Run: ``python bench/bench_fakes.py [--runs N]``. The same exchanges run three
ways: through ``netserve_testing.run_handler`` (fake socket, no thread, no real
time), and through a real ``ThreadingTCPServer``/``ThreadingUDPServer`` (the
stdlib's, then netserve's) with a client on 127.0.0.1 that connects, sends,
reads the reply to EOF and closes. Servers are started once, outside the
timing: only the per-exchange cost is measured. The goal is a fake at least
30 times faster than the real exchange. A second table shows in-memory TLS
(``run_handler(..., tls=True)``: a real TLS session over memory buffers, handshake
included) beside the plaintext fake and a real ``ThreadingTLSTCPServer`` exchange.

``--baseline DIR`` times the fake runs again with the ``netserve_testing`` of
another checkout (say ``git worktree add ../base main``), in a subprocess, and
prints this checkout's rate beside it: a change to the fakes may cost at most 10%.

A last table shows what a test costs through pytest: ``N`` empty tests beside
``N`` tests that each run a handler in memory, in a pytest subprocess (the
empty test is the floor no in-memory test can go below).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from netserve_testing import Script, run_datagram_handler, run_handler, session_ca


class RecvUpper(socketserver.BaseRequestHandler):
    # The socketserver documentation's first TCP example.
    def handle(self) -> None:
        self.data = self.request.recv(1024).strip()
        self.request.sendall(self.data.upper())


class LineUpper(socketserver.StreamRequestHandler):
    # The documentation's StreamRequestHandler example.
    def handle(self) -> None:
        self.data = self.rfile.readline().strip()
        self.wfile.write(self.data.upper())


class Chat(socketserver.StreamRequestHandler):
    # Three request/response round trips on one connection.
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


class DatagramUpper(socketserver.BaseRequestHandler):
    # The documentation's UDP example.
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data.strip().upper(), self.client_address)


CHAT = [b"one\n", b"two\n", b"three\n"]
CHAT_SCRIPT = (
    Script()
    .send_line("one")
    .expect_line("ONE")
    .send_line("two")
    .expect_line("TWO")
    .send_line("three")
    .expect_line("THREE")
    .close()
    .expect_closed()
)


def rate(function: Callable[[], object], runs: int, repeats: int = 3) -> float:
    """Best of ``repeats`` timings of ``runs`` calls, as calls per second."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(runs):
            function()
        best = min(best, time.perf_counter() - start)
    return runs / best


def stream_exchange(address: Tuple[str, int], messages: List[bytes]) -> Callable[[], bytes]:
    def exchange() -> bytes:
        with socket.create_connection(address) as sock:
            reply = b""
            for message in messages:
                sock.sendall(message)
                if len(messages) > 1:  # a conversation: wait for each answer
                    reply += sock.recv(1024)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(1024):
                reply += chunk
            return reply

    return exchange


def datagram_exchange(address: Tuple[str, int]) -> Callable[[], bytes]:
    def exchange() -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(b"hello\n", address)
            return sock.recvfrom(1024)[0]

    return exchange


def real_rate(
    module: Any, handler: type, datagram: bool, messages: List[bytes], runs: int
) -> Optional[float]:
    server_class = module.ThreadingUDPServer if datagram else module.ThreadingTCPServer
    server = server_class(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        address = server.server_address[:2]
        exchange = datagram_exchange(address) if datagram else stream_exchange(address, messages)
        exchange()  # warm up
        return rate(exchange, runs, repeats=2)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def tls_exchange(address: Tuple[str, int], messages: List[bytes]) -> Callable[[], bytes]:
    context = session_ca().client_context()

    def exchange() -> bytes:
        raw = socket.create_connection(address)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            reply = b""
            for message in messages:
                sock.sendall(message)
                if len(messages) > 1:
                    reply += sock.recv(1024)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(1024):
                reply += chunk
            return reply

    return exchange


def real_tls_rate(netserve: Any, handler: type, messages: List[bytes], runs: int) -> float:
    server = netserve.ThreadingTLSTCPServer(
        ("127.0.0.1", 0), handler, ssl_context=session_ca().server_context()
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        exchange = tls_exchange(server.server_address[:2], messages)
        exchange()  # warm up
        return rate(exchange, runs, repeats=2)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def tls_table(netserve: Any, runs: int, real_runs: int) -> None:
    cases: List[Tuple[str, type, List[bytes], Any]] = [
        ("rfile.readline + wfile.write", LineUpper, [b"hello\n"], b"hello\n"),
        ("3 round trips, Script lockstep", Chat, CHAT, CHAT_SCRIPT),
    ]
    header = (
        f"{'in-memory tls':34} {'tls fake/s':>10} {'plain fake/s':>12} {'real tls/s':>10} "
        f"{'vs real tls':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, handler, messages, inbound in cases:
        tls_rate = rate(lambda: run_handler(handler, inbound, tls=True), runs)  # noqa: B023
        plain_rate = rate(lambda: run_handler(handler, inbound), runs)  # noqa: B023
        real = real_tls_rate(netserve, handler, messages, real_runs) if netserve else None
        real_text = f"{real:10.0f}" if real else f"{'n/a':>10}"
        ratio_text = f"{tls_rate / real:10.1f}x" if real else f"{'n/a':>11}"
        print(f"{name:34} {tls_rate:10.0f} {plain_rate:12.0f} {real_text} {ratio_text}")


def fake_cases() -> List[Tuple[str, type, bool, List[bytes], Callable[[], object]]]:
    """The exchanges: name, handler, datagram?, client messages, the in-memory run."""
    return [
        (
            "recv + sendall (doc TCP example)",
            RecvUpper,
            False,
            [b"hello\n"],
            lambda: run_handler(RecvUpper, b"hello\n"),
        ),
        (
            "rfile.readline + wfile.write",
            LineUpper,
            False,
            [b"hello\n"],
            lambda: run_handler(LineUpper, b"hello\n"),
        ),
        (
            "3 round trips, Script lockstep",
            Chat,
            False,
            CHAT,
            lambda: run_handler(Chat, CHAT_SCRIPT),
        ),
        (
            "UDP datagram (doc UDP example)",
            DatagramUpper,
            True,
            [b"hello\n"],
            lambda: run_datagram_handler(DatagramUpper, b"hello\n"),
        ),
    ]


def fake_rates(runs: int) -> Dict[str, float]:
    """Runs per second of each in-memory case: the best of many short timings.

    Short timings, many of them: on a busy machine the best window is the one the
    other processes left alone, and that is what two checkouts can be compared on.
    """
    chunk = max(100, runs // 10)
    return {name: rate(fake, chunk, repeats=15) for name, _, _, _, fake in fake_cases()}


def checkout_rates(directory: str, runs: int) -> Dict[str, float]:
    """The fake rates with the ``netserve_testing`` found in ``directory``, in a subprocess."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([directory, os.environ.get("PYTHONPATH", "")])
    )
    completed = subprocess.run(
        [sys.executable, __file__, "--fake-only-json", "--runs", str(runs)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found: Dict[str, Any] = json.loads(completed.stdout)
    if not str(found["module"]).startswith(str(Path(directory).resolve())):
        raise SystemExit(f"imported {found['module']}, not the copy in {directory}")
    rates: Dict[str, float] = found["rates"]
    return rates


PYTEST_MODULE = """
import socketserver
from netserve_testing import run_handler

class LineUpper(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())
"""


def pytest_seconds(bodies: List[str], tests: int, repeats: int = 5) -> List[float]:
    """Best wall time of a pytest subprocess running ``tests`` copies of each body.

    The runs alternate between the bodies, so a busy moment hits them alike.
    """
    best = [float("inf")] * len(bodies)
    with tempfile.TemporaryDirectory() as directory:
        files = []
        for number, body in enumerate(bodies):
            tests_source = "".join(f"\ndef test_{i}():\n    {body}\n" for i in range(tests))
            path = Path(directory, f"test_bench_{number}.py")
            path.write_text(PYTEST_MODULE + tests_source)
            files.append(str(path))
        for _ in range(repeats):
            for number, path in enumerate(files):
                command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path]
                start = time.perf_counter()
                subprocess.run(command, cwd=directory, capture_output=True, check=True)
                best[number] = min(best[number], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="fake runs per timing")
    parser.add_argument("--real-runs", type=int, default=300, help="real exchanges per timing")
    parser.add_argument("--baseline", metavar="DIR", help="compare the fakes with DIR's copy")
    parser.add_argument("--pytest-tests", type=int, default=500, help="tests per pytest run")
    parser.add_argument("--fake-only-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_only_json:
        import netserve_testing

        print(json.dumps({"module": netserve_testing.__file__, "rates": fake_rates(args.runs)}))
        return
    try:
        netserve: Any = importlib.import_module("netserve")
        netserve.ThreadingTCPServer  # noqa: B018 - present once the core is installed
    except (ImportError, AttributeError):
        netserve = None

    header = (
        f"{'exchange':34} {'fake/s':>9} {'stdlib/s':>9} {'netserve/s':>10} "
        f"{'vs stdlib':>9} {'vs netserve':>11}"
    )
    print(header)
    print("-" * len(header))
    ratios: List[float] = []
    rates: Dict[str, float] = {}
    for name, handler, datagram, messages, fake in fake_cases():
        fake_rate = rate(fake, args.runs)
        rates[name] = fake_rate
        stdlib_rate = real_rate(socketserver, handler, datagram, messages, args.real_runs)
        netserve_rate = (
            real_rate(netserve, handler, datagram, messages, args.real_runs) if netserve else None
        )
        assert stdlib_rate is not None
        ratio = fake_rate / stdlib_rate
        ratios.append(ratio)
        ns_rate = f"{netserve_rate:10.0f}" if netserve_rate else f"{'n/a':>10}"
        ns_ratio = f"{fake_rate / netserve_rate:10.1f}x" if netserve_rate else f"{'n/a':>11}"
        print(f"{name:34} {fake_rate:9.0f} {stdlib_rate:9.0f} {ns_rate} {ratio:8.1f}x {ns_ratio}")
    print()
    verdict = "met" if min(ratios) >= 30 else "NOT met"
    print(
        f"goal: fake >= 30x faster than a real threaded server: {verdict} (min {min(ratios):.1f}x)"
    )
    print()
    tls_table(netserve, max(10, args.runs // 10), max(10, args.real_runs // 2))

    if args.baseline:
        print()
        # Both in subprocesses, alternating, best of five rounds: a busy machine slows
        # whichever runs at the wrong moment, not one side only.
        here = str(Path(__file__).resolve().parents[1])
        base: Dict[str, float] = {}
        now: Dict[str, float] = {}
        for _ in range(5):
            for rates_of, directory in ((base, args.baseline), (now, here)):
                for name, value in checkout_rates(directory, args.runs).items():
                    rates_of[name] = max(rates_of.get(name, 0.0), value)
        header = f"{'exchange':34} {'baseline/s':>10} {'this/s':>9} {'this/baseline':>13}"
        print(header)
        print("-" * len(header))
        worst = float("inf")
        for name, base_rate in base.items():
            ratio = now[name] / base_rate
            worst = min(worst, ratio)
            print(f"{name:34} {base_rate:10.0f} {now[name]:9.0f} {ratio:12.2f}x")
        verdict = "met" if worst >= 0.9 else "NOT met"
        print(f"\ngoal: no run_handler slowdown beyond 10%: {verdict} (worst {worst:.2f}x)")

    if args.pytest_tests:
        print()
        tests = args.pytest_tests
        empty, memory = pytest_seconds(
            ["pass", 'assert run_handler(LineUpper, b"hi\\n").sent == b"HI\\n"'], tests
        )
        header = (
            f"{'pytest, ' + str(tests) + ' tests':34} {'total s':>9} {'ms/test':>9} {'vs empty':>9}"
        )
        print(header)
        print("-" * len(header))
        for name, seconds in (
            ("empty test (the floor)", empty),
            ("in-memory handler test", memory),
        ):
            per_test = seconds / tests * 1000
            print(f"{name:34} {seconds:9.2f} {per_test:9.3f} {seconds / empty:8.2f}x")
        extra = (memory - empty) / tests * 1000
        print(f"\nan in-memory handler test adds {extra:.3f} ms to an empty pytest test")


if __name__ == "__main__":
    main()
