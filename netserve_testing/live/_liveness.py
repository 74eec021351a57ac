"""Liveness: prove a server keeps serving new clients while another client stalls.

The classic way to add TLS to a ``socketserver`` server, wrapping the listening socket
(``context.wrap_socket(server.socket, server_side=True)``), runs every handshake inside
``accept()`` on the serving thread: one client that connects and says nothing, or stops
half way through its ClientHello, stops the server for everyone. :func:`check_liveness`
opens such a client, then checks that a new client is still served.
"""

from __future__ import annotations

import ssl
from typing import Any, Callable, Iterable, List, Optional, Union

from .._errors import NetserveTestingError
from .._tls import session_ca
from ..script._failure import ExpectationFailed
from ._clients import StreamClient, connect
from ._tls_client import TLSClient, client_hello

__all__ = ["STALLS", "ServerStalled", "check_liveness"]

#: The stalled clients :func:`check_liveness` knows.
STALLS = ("silent", "mid-handshake")

_DESCRIPTIONS = {
    "silent": "connected and sent nothing",
    "mid-handshake": "sent half a tls ClientHello, then nothing",
}


class ServerStalled(NetserveTestingError, AssertionError):
    """A server stopped serving new clients while one client stalled.

    Attributes:
        stall: Which stalled client (``"silent"`` or ``"mid-handshake"``).
        client_address: The stalled client's own address, as the server sees it.

    Example:
        >>> issubclass(ServerStalled, AssertionError)
        True
    """

    def __init__(self, message: str, stall: str, client_address: Any) -> None:
        super().__init__(message)
        self.stall = stall
        self.client_address = client_address


def check_liveness(
    server: Any,
    *,
    stalls: Iterable[str] = STALLS,
    tls: Union[bool, ssl.SSLContext, None] = None,
    probe: Optional[Callable[[StreamClient], Any]] = None,
    timeout: float = 5.0,
) -> None:
    """Check that ``server`` serves a new client while another client stalls.

    For each stall in ``stalls``, a client connects and stalls (``"silent"``: sends
    nothing; ``"mid-handshake"``: sends half a TLS ClientHello, then nothing); while it
    stays connected, a new client must complete its TLS handshake (TLS servers) and
    ``probe`` (if given) within ``timeout`` seconds. The clients are closed before it
    returns. A server with a thread, pool worker or child per request passes; one that
    runs handshakes in ``accept()`` fails. A synchronous server passes only if it gives
    up on the stalled client (``handshake_timeout``, a handler timeout) within ``timeout``.

    Args:
        server: A :class:`~netserve_testing.ServerHandle`, or an address
            (``(host, port)`` or a Unix path).
        stalls: Which stalled clients to try, one after the other.
        tls: Whether the server speaks TLS: ``None`` asks the handle (an address means
            plaintext), ``True`` verifies against the session CA, or a client
            ``ssl.SSLContext`` of your own.
        probe: What the new client does to prove it is served, e.g.
            ``lambda client: client.send_line("hi").expect_line("HI")``; required for
            a plaintext server (a TLS server proves it by finishing the handshake).
        timeout: Seconds the new client gets.

    Raises:
        ServerStalled: The new client was not served in time; the message names the
            stalled client and what it did.
        ValueError: An unknown stall, or a plaintext server without ``probe``.

    Example:
        >>> check_liveness(server)  # a tls server handle  # doctest: +SKIP
        >>> hello = lambda client: client.send_line("hi").expect_line("HI")
        >>> check_liveness(server, probe=hello)  # doctest: +SKIP
    """
    __tracebackhide__ = True  # pytest shows the test's line, not ours
    address = getattr(server, "address", server)
    context = _client_context(server, tls)
    if context is None and probe is None:
        raise ValueError("check_liveness() of a plaintext server needs a probe")
    chosen = list(stalls)
    for stall in chosen:
        if stall not in STALLS:
            raise ValueError(f"unknown stall {stall!r}, expected one of: {', '.join(STALLS)}")
    for stall in chosen:
        _check_one(address, stall, context, probe, timeout)


def _client_context(
    server: Any, tls: Union[bool, ssl.SSLContext, None]
) -> Optional[ssl.SSLContext]:
    if isinstance(tls, ssl.SSLContext):
        return tls
    if tls is None:
        tls = bool(getattr(server, "is_tls", False))
    if not tls:
        return None
    return session_ca().shared_client_context(with_cert=bool(getattr(server, "mtls", False)))


def _check_one(
    address: Any,
    stall: str,
    context: Optional[ssl.SSLContext],
    probe: Optional[Callable[[StreamClient], Any]],
    timeout: float,
) -> None:
    __tracebackhide__ = True  # pytest shows the test's line, not ours
    clients: List[StreamClient] = []
    try:
        stalled = connect(address, "stream", timeout)
        assert isinstance(stalled, StreamClient)
        clients.append(stalled)
        if stall == "mid-handshake":
            hello = client_hello(context or session_ca().shared_client_context())
            stalled.send(hello[: len(hello) // 2])
        stalled_address = stalled.sock.getsockname()
        try:
            fresh: StreamClient
            if context is not None:
                fresh = TLSClient(address, context, timeout)
            else:
                plain = connect(address, "stream", timeout)
                assert isinstance(plain, StreamClient)
                fresh = plain
            clients.append(fresh)
            if probe is not None:
                probe(fresh)
        except (ExpectationFailed, OSError) as exc:
            what = "tls handshake or probe" if context is not None else "probe"
            raise ServerStalled(
                f"server at {address!r} stopped serving while a client stalled: the "
                f"{stall} client from {stalled_address!r} ({_DESCRIPTIONS[stall]}) held it; "
                f"a new client's {what} did not complete in {timeout:g} s: {exc}",
                stall,
                stalled_address,
            ) from exc
    finally:
        for client in clients:
            client.disconnect()
