"""A stand-in for ``handler.server``: the attributes a test sets, and the calls a handler makes."""

from __future__ import annotations

import socket
import sys
from typing import Any, List, NoReturn, Optional, Tuple

from ._socket_base import Address, default_address

__all__ = ["FakeServer", "prepare_server"]


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
        missing = self.__dict__.setdefault("_missing", [])
        if name not in missing:
            missing.append(name)
        raise AttributeError(
            f"FakeServer has no attribute {name!r}; give it with FakeServer({name}=...) "
            f"or run_handler(..., server=FakeServer({name}=...))"
        )

    # Attributes asked for and never given (created on the first such request).
    _missing: Optional[List[str]] = None

    @property
    def missing(self) -> List[str]:
        """Attributes the handler asked for that were never given, in order.

        ``run_handler`` shows them in the transcript: a handler that swallows the
        ``AttributeError`` (as ``xmlrpc.server``'s ``do_POST`` does, answering 500)
        still leaves the reason in sight.
        """
        return list(self._missing or ())

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


def prepare_server(server: Any, handler_class: Any, family: Optional[int]) -> Tuple[Any, int]:
    """Ready what ``run_handler(server=...)`` was given; return it and the family to use.

    A server class is built as ``cls(address, handler_class, bind_and_activate=False)``
    and closed at once (``server_close()``): no socket is bound, nothing stays open,
    and its attributes and methods remain for the handler. An instance keeps its
    state, but a socket it never bound is closed. Either way, what ``server_bind()``
    would have set is set: ``server_name``/``server_port`` of an ``HTTPServer`` (from
    ``server_address``, as the fake connection reports it) and a ``WSGIServer``'s
    environ.

    Example:
        >>> from http.server import HTTPServer
        >>> server, family = prepare_server(HTTPServer, None, None)
        >>> server.server_address, server.server_port, server.socket.fileno()
        (('127.0.0.1', 8000), 8000, -1)
    """
    if isinstance(server, type):
        cls = server
        if family is None:
            family = int(getattr(cls, "address_family", socket.AF_INET))
        address = default_address(family, local=True)
        try:
            server = cls(address, handler_class, bind_and_activate=False)
        except TypeError as exc:
            raise TypeError(
                f"server={cls.__name__} cannot be built as {cls.__name__}(server_address, "
                f"RequestHandlerClass, bind_and_activate=False) ({exc}); pass an instance"
            ) from exc
        server.server_close()
    else:
        if getattr(server, "RequestHandlerClass", None) is None:
            server.RequestHandlerClass = handler_class
        if isinstance(server, FakeServer):
            family = server.address_family if family is None else family
            return server, int(family)
        _close_unbound_socket(server)
        if family is None:
            family = int(getattr(server, "address_family", socket.AF_INET))
    _finish_bind(server)
    return server, family


def _close_unbound_socket(server: Any) -> None:
    # An instance built with bind_and_activate=False holds a socket nobody will bind.
    sock = getattr(server, "socket", None)
    if not isinstance(sock, socket.socket) or sock.fileno() < 0:
        return
    try:
        name = sock.getsockname()
    except OSError:
        return
    unbound = name in ("", b"", None) or (isinstance(name, tuple) and name[1] == 0)
    if unbound and sock.type == socket.SOCK_STREAM:
        sock.close()


def _finish_bind(server: Any) -> None:
    # What HTTPServer.server_bind() and WSGIServer.server_bind() set after binding. The
    # modules are only looked at if already imported: a server of theirs implies it.
    http_server = sys.modules.get("http.server")
    if http_server is None or not isinstance(server, http_server.HTTPServer):
        return
    if getattr(server, "server_name", None) is None:
        address = server.server_address
        if isinstance(address, tuple):
            server.server_name = socket.getfqdn(address[0])
            server.server_port = address[1]
        else:  # a Unix path: what HTTPServer would get from it
            server.server_name = socket.getfqdn(str(address))
            server.server_port = 0
    wsgi = sys.modules.get("wsgiref.simple_server")
    if (
        wsgi is not None
        and isinstance(server, wsgi.WSGIServer)
        and getattr(server, "base_environ", None) is None
    ):
        server.setup_environ()
