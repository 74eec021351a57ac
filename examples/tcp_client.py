"""TCP client from the socketserver documentation: sends its arguments, prints the reply.

Start ``tcp_server.py`` or ``tcp_stream_server.py`` (or ``python -m netserve``) first::

    python examples/tcp_client.py hello world with TCP
    python examples/tcp_client.py --port 40000 python is nice
"""

from __future__ import annotations

import argparse
import socket
import sys


def main(argv: list[str]) -> None:
    """Send the words of ``argv`` as one line and print what the server answers."""
    HOST, PORT = "localhost", 9999
    parser = argparse.ArgumentParser(description="send a line to the TCP example server")
    parser.add_argument("--port", type=int, default=PORT, help="server port (default 9999)")
    parser.add_argument("words", nargs="*", help="the message")
    args = parser.parse_args(argv)
    PORT = args.port
    data = " ".join(args.words)

    # Create a socket (SOCK_STREAM means a TCP socket)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Connect to server and send data
        sock.connect((HOST, PORT))
        sock.sendall(bytes(data + "\n", "utf-8"))

        # Receive data from the server and shut down
        received = str(sock.recv(1024), "utf-8")

    print(f"Sent:     {data}")
    print(f"Received: {received}")


if __name__ == "__main__":
    main(sys.argv[1:])
