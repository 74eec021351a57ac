"""UDP client from the socketserver documentation: sends its arguments, prints the reply.

Start ``udp_server.py`` (or ``python -m netserve --udp 127.0.0.1:9999``) first::

    python examples/udp_client.py hello world with UDP
"""

from __future__ import annotations

import argparse
import socket
import sys


def main(argv: list[str]) -> None:
    """Send the words of ``argv`` as one datagram and print the reply datagram."""
    HOST, PORT = "localhost", 9999
    parser = argparse.ArgumentParser(description="send a datagram to the UDP example server")
    parser.add_argument("--port", type=int, default=PORT, help="server port (default 9999)")
    parser.add_argument("words", nargs="*", help="the message")
    args = parser.parse_args(argv)
    PORT = args.port
    data = " ".join(args.words)

    # SOCK_DGRAM is the socket type to use for UDP sockets
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)  # a lost datagram must not hang the example
        # As you can see, there is no connect() call; UDP has no connections.
        # Instead, data is directly sent to the recipient via sendto().
        sock.sendto(bytes(data + "\n", "utf-8"), (HOST, PORT))
        received = str(sock.recv(1024), "utf-8")

    print(f"Sent:     {data}")
    print(f"Received: {received}")


if __name__ == "__main__":
    main(sys.argv[1:])
