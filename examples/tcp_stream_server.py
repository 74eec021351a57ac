"""TCP server from the socketserver documentation, with a StreamRequestHandler.

``self.rfile.readline()`` calls ``recv()`` as many times as needed to read a whole line,
where the ``BaseRequestHandler`` version in ``tcp_server.py`` makes a single ``recv()``.

Run it, then talk to it with ``tcp_client.py``::

    python examples/tcp_stream_server.py     # localhost:9999; Ctrl-C stops it
    python examples/tcp_client.py python is nice
"""

from __future__ import annotations

import argparse
import sys

import netserve as socketserver


class MyTCPHandler(socketserver.StreamRequestHandler):
    """Reads one line from ``rfile`` and writes it back upper-cased to ``wfile``."""

    def handle(self) -> None:
        # self.rfile is a file-like object created by the handler;
        # we can now use e.g. readline() instead of raw recv() calls
        self.data = self.rfile.readline().strip()
        print(f"{self.client_address[0]} wrote:")
        print(self.data)
        # Likewise, self.wfile is a file-like object used to write back
        # to the client
        self.wfile.write(self.data.upper())


def main(argv: list[str]) -> None:
    """Serve MyTCPHandler on localhost until Ctrl-C; ``--port 0`` picks a free port."""
    HOST, PORT = "localhost", 9999
    parser = argparse.ArgumentParser(description="upper-casing TCP server (stream handler)")
    parser.add_argument("--port", type=int, default=PORT, help="port to serve on (default 9999)")
    PORT = parser.parse_args(argv).port

    with socketserver.TCPServer((HOST, PORT), MyTCPHandler) as server:
        print("serving on {}:{}".format(*server.server_address[:2]), flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("interrupted, closing the server")


if __name__ == "__main__":
    main(sys.argv[1:])
