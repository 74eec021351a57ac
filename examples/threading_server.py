"""ThreadingMixIn example from the socketserver documentation, on netserve.

It runs by itself: the server runs in a thread on a free port, three clients talk to it,
and each reply names the thread that handled the request::

    $ python examples/threading_server.py
    Server loop running in thread: Thread-1 (serve_forever)
    Received: Thread-2 (process_request_thread): Hello World 1
    Received: Thread-3 (process_request_thread): Hello World 2
    Received: Thread-4 (process_request_thread): Hello World 3
"""

from __future__ import annotations

import socket
import threading

import netserve as socketserver


class ThreadedTCPRequestHandler(socketserver.BaseRequestHandler):
    """Replies ``"{thread name}: {data}"``: the name of the thread handling the request."""

    def handle(self) -> None:
        data = str(self.request.recv(1024), "ascii")
        cur_thread = threading.current_thread()
        response = bytes(f"{cur_thread.name}: {data}", "ascii")
        self.request.sendall(response)


class ThreadedTCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A TCP server handling each request in a new thread."""


def client(ip: str, port: int, message: str) -> None:
    """Send ``message`` to the server at ``(ip, port)`` and print the reply."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.connect((ip, port))
        sock.sendall(bytes(message, "ascii"))
        response = str(sock.recv(1024), "ascii")
        print(f"Received: {response}")


def main() -> None:
    """Start the server in a thread, run three clients, shut the server down."""
    # Port 0 means to select an arbitrary unused port
    HOST, PORT = "localhost", 0

    server = ThreadedTCPServer((HOST, PORT), ThreadedTCPRequestHandler)
    with server:
        ip, port = server.server_address[:2]

        # Start a thread with the server -- that thread will then start one
        # more thread for each request
        server_thread = threading.Thread(target=server.serve_forever)
        # Exit the server thread when the main thread terminates
        server_thread.daemon = True
        server_thread.start()
        print("Server loop running in thread:", server_thread.name)

        client(ip, port, "Hello World 1")
        client(ip, port, "Hello World 2")
        client(ip, port, "Hello World 3")

        server.shutdown()


if __name__ == "__main__":
    main()
