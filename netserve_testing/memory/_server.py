"""A stand-in for ``handler.server``: the attributes a test sets, and the calls a handler makes."""

from __future__ import annotations

import socket
from typing import Any, List, NoReturn, Optional, Tuple

from ._socket_base import Address, default_address

__all__ = ["FakeServer"]


class FakeServer:
    """What a handler sees as ``self.server`` when run by :func:`~netserve_testing.run_handler`.

    It carries the attributes of a socketserver server (``server_address``,
    ``RequestHandlerClass``, ``address_family``, ``socket_type``, ``timeout``,
    ``max_packet_size``, ...) plus any the test passes as keywords, such as
    the shared state a handler reads. The calls a handler may make on its
    server (``shutdown()``, ``request_shutdown()``, ``server_close()``) are
    recorded in :attr:`calls`, never performed. Reading an attribute that was
    not given raises :class:`AttributeError` saying how to give it.

    Args:
        server_address: The server's address (a default per family).
        RequestHandlerClass: The handler class (``run_handler`` fills it in).
        address_family: ``AF_INET`` (default), ``AF_INET6`` or ``AF_UNIX``.
        socket_type: ``SOCK_STREAM`` (default) or ``SOCK_DGRAM``.
        **attributes: More attributes, e.g. ``users={"ann": 1}``.

    Example:
        >>> server = FakeServer(greeting="hi")
        >>> server.greeting, server.server_address
        ('hi', ('127.0.0.1', 8000))
        >>> server.request_shutdown()
        >>> server.shutdown_requested
        True
    """

    #: Class attributes of socketserver's servers, with the stdlib's defaults.
    request_queue_size = 5
    allow_reuse_address = False
    allow_reuse_port = False
    max_packet_size = 8192
    timeout: Optional[float] = None
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        server_address: Address = None,
        RequestHandlerClass: Any = None,
        *,
        address_family: int = socket.AF_INET,
        socket_type: int = socket.SOCK_STREAM,
        **attributes: Any,
    ) -> None:
        self.address_family = address_family
        self.socket_type = socket_type
        self.server_address = (
            server_address
            if server_address is not None
            else default_address(address_family, local=True)
        )
        self.RequestHandlerClass = RequestHandlerClass
        self.calls: List[Tuple[str, Tuple[Any, ...]]] = []
        """Server methods the handler called, as ``(name, args)``, in order."""
        for name, value in attributes.items():
            setattr(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes that were never set: say how to set them.
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"FakeServer has no attribute {name!r}; give it with FakeServer({name}=...) "
            f"or run_handler(..., server=FakeServer({name}=...))"
        )

    @property
    def shutdown_requested(self) -> bool:
        """Whether the handler called ``shutdown()`` or ``request_shutdown()``."""
        return any(name in ("shutdown", "request_shutdown") for name, _ in self.calls)

    def shutdown(self) -> None:
        """Record a ``shutdown()`` call (a real server would stop ``serve_forever``)."""
        self.calls.append(("shutdown", ()))

    def request_shutdown(self) -> None:
        """Record a ``request_shutdown()`` call (netserve's non-blocking shutdown)."""
        self.calls.append(("request_shutdown", ()))

    def server_close(self) -> None:
        """Record a ``server_close()`` call."""
        self.calls.append(("server_close", ()))

    def _unmodelled(self, what: str) -> NoReturn:
        raise NotImplementedError(f"FakeServer does not model {what}; use a real server")

    def serve_forever(self, poll_interval: float = 0.5) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("serve_forever()")

    def handle_request(self) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("handle_request()")

    def fileno(self) -> NoReturn:
        """Not modelled: raises :class:`NotImplementedError`."""
        self._unmodelled("fileno()")

    def __repr__(self) -> str:
        return f"<FakeServer {self.server_address!r} handler={self.RequestHandlerClass!r}>"
