"""How the kit ends a connection it opened: as a polite peer would, so it sends no reset.

A socket closed with unread data sends RST (Linux, TCP and Unix alike), and the handler
then fails on its next read or write: an error the kit caused, not the handler. So the
kit ends its data first (a TLS close_notify, then the TCP FIN), takes what the handler
sent and nobody read, and only then closes. Teardown closes every client this way, and
so does leaving a client's ``with`` block.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from typing import Any

__all__ = ["close_gracefully"]

#: Reads of what the handler sent that a close takes at most: a handler may write without end.
_DRAIN_READS = 64


def close_gracefully(client: Any) -> None:
    """End a kit client's connection without a reset if it can, then close its socket.

    The time it did is kept on the client (``kit_closed_at``): the harness does not
    count the handler finding its peer gone after that as the handler's error.

    Args:
        client: A kit client (stream, TLS or datagram); a closed one is left alone.

    Example:
        >>> import socket
        >>> from netserve_testing.live._clients import StreamClient
        >>> a, b = socket.socketpair()
        >>> b.sendall(b"unread")
        >>> client = StreamClient(a, "peer")
        >>> close_gracefully(client)
        >>> b.recv(10), client.closed  # EOF for the peer, no reset
        (b'', True)
        >>> b.close()
    """
    if client.closed:
        return
    client.kit_closed_at = time.monotonic()  # a reset from here on is the kit's doing
    sock = client.sock
    if sock.type == socket.SOCK_STREAM and not isinstance(sock, ssl.SSLSocket):
        with contextlib.suppress(OSError):
            send_close_notify = getattr(client, "_send_close_notify", None)
            if send_close_notify is not None:
                with contextlib.suppress(OSError):  # TLS ends before TCP: no bare FIN
                    send_close_notify()
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            for _ in range(_DRAIN_READS):
                if not sock.recv(65536):
                    break
    client.disconnect()
