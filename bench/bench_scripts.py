"""Protocol scripts per second: the same script in memory and against a real server.

Run: ``python bench/bench_scripts.py [--runs N]``. Each script plays through
``run_handler`` (fake socket, lockstep, no thread) and through a scripted
client against a real server on 127.0.0.1 started once outside the timing
(``http.server.ThreadingHTTPServer`` for HTTP, netserve's ``ThreadingTCPServer``
for the line protocol). Rows: an HTTP/1.1 keep-alive conversation of three
requests parsed by ``expect_response``, a CRLF memcached-style ``get`` read with
``expect_line`` and ``expect_until``, and the HTTP conversation loaded from its
golden-file text and replayed in memory. The ratio is memory over real.
"""

from __future__ import annotations

import argparse
import http.server
import json
import socketserver
import time
from typing import Any, Callable

from netserve_testing import Script, run_handler, serve


class Api(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response (handle_one_request flushes): unbuffered, the header and
    # the body go out in two writes, and Nagle's algorithm with the client's delayed
    # ACK holds the body back ~40 ms, which would measure TCP, not the scripts.
    wbufsize = -1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Memcached(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            if line.startswith(b"get "):
                self.wfile.write(b"VALUE k 0 5\r\nhello\r\nEND\r\n")


HTTP = Script()
for number in range(3):
    HTTP.send_request("GET", f"/items/{number}").expect_response(
        200, headers={"content-type": "application/json"}, json={"path": f"/items/{number}"}
    )
LINES = Script(newline="\r\n")
for _ in range(3):
    LINES.send_line("get k").expect_line("VALUE k 0 5").expect_until(b"END\r\n")
GOLDEN_TEXT = HTTP.dumps()


def rate(runs: int, once: Callable[[], Any]) -> float:
    once()  # warm up
    start = time.perf_counter()
    for _ in range(runs):
        once()
    return runs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="runs per measurement")
    runs = parser.parse_args().runs
    if runs < 1:
        parser.error("argument --runs: must be at least 1")
    print(f"{'benchmark':44} {'memory/s':>10} {'real/s':>10} {'ratio':>7}")
    with serve(Api, server_class=http.server.ThreadingHTTPServer) as server:
        memory = rate(runs, lambda: run_handler(Api, HTTP))
        real = rate(runs, lambda: HTTP.run(server))
    print(
        f"{'HTTP keep-alive, 3 requests, expect_response':44} {memory:10.0f} {real:10.0f} "
        f"{memory / real:6.1f}x"
    )
    with serve(Memcached) as server:
        memory = rate(runs, lambda: run_handler(Memcached, LINES))
        real = rate(runs, lambda: LINES.run(server))
    print(
        f"{'CRLF get x3, expect_line + expect_until':44} {memory:10.0f} {real:10.0f} "
        f"{memory / real:6.1f}x"
    )
    loaded = rate(runs, lambda: run_handler(Api, Script.loads(GOLDEN_TEXT)))
    plain = rate(runs, lambda: run_handler(Api, HTTP))
    print(
        f"{'HTTP golden text: load + replay in memory':44} {loaded:10.0f} {plain:10.0f} "
        f"{loaded / plain:6.2f}x"
    )
    print("(last row: loaded from text vs a built script, both in memory)")


if __name__ == "__main__":
    main()
