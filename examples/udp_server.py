"""UDP server from the socketserver documentation, on netserve.

Run it, then talk to it with ``udp_client.py``::

    python examples/udp_server.py            # localhost:9999; Ctrl-C stops it
    python examples/udp_client.py hello world with UDP
"""

from __future__ import annotations

import argparse
import sys

import netserve as socketserver


class MyUDPHandler(socketserver.BaseRequestHandler):
    """
    This class works similar to the TCP handler class, except that
    self.request consists of a pair of data and client socket, and since
    there is no connection the client address must be given explicitly
    when sending data back via sendto().
    """

    def handle(self) -> None:
        data = self.request[0].strip()
        socket = self.request[1]
        print(f"{self.client_address[0]} wrote:")
        print(data)
        socket.sendto(data.upper(), self.client_address)


def main(argv: list[str]) -> None:
    """Serve MyUDPHandler on localhost until Ctrl-C; ``--port 0`` picks a free port."""
    HOST, PORT = "localhost", 9999
    parser = argparse.ArgumentParser(description="upper-casing UDP server")
    parser.add_argument("--port", type=int, default=PORT, help="port to serve on (default 9999)")
    PORT = parser.parse_args(argv).port

    with socketserver.UDPServer((HOST, PORT), MyUDPHandler) as server:
        print("serving on {}:{}".format(*server.server_address[:2]), flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("interrupted, closing the server")


if __name__ == "__main__":
    main(sys.argv[1:])
