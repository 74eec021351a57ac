"""TCP server from the socketserver documentation, on netserve.

The handler reads one message with a single ``recv()`` and sends it back upper-cased.

Run it, then talk to it with ``tcp_client.py``::

    python examples/tcp_server.py            # localhost:9999; Ctrl-C stops it
    python examples/tcp_client.py hello world with TCP
"""

from __future__ import annotations

import argparse
import sys

import netserve as socketserver


class MyTCPHandler(socketserver.BaseRequestHandler):
    """
    The request handler class for our server.

    It is instantiated once per connection to the server, and must
    override the handle() method to implement communication to the
    client.
    """

    def handle(self) -> None:
        # self.request is the TCP socket connected to the client
        self.data = self.request.recv(1024).strip()
        print(f"Received from {self.client_address[0]}:")
        print(self.data)
        # just send back the same data, but upper-cased
        self.request.sendall(self.data.upper())


def main(argv: list[str]) -> None:
    """Serve MyTCPHandler on localhost until Ctrl-C; ``--port 0`` picks a free port."""
    HOST, PORT = "localhost", 9999
    parser = argparse.ArgumentParser(description="upper-casing TCP server")
    parser.add_argument("--port", type=int, default=PORT, help="port to serve on (default 9999)")
    PORT = parser.parse_args(argv).port

    # Create the server, binding to localhost on port 9999
    with socketserver.TCPServer((HOST, PORT), MyTCPHandler) as server:
        print("serving on {}:{}".format(*server.server_address[:2]), flush=True)
        # Activate the server; this will keep running until you
        # interrupt the program with Ctrl-C
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("interrupted, closing the server")


if __name__ == "__main__":
    main(sys.argv[1:])
