"""The exception hierarchy of :mod:`netserve`, rooted in :class:`NetserveError`."""

from __future__ import annotations

__all__ = [
    "AddressError",
    "AddressTypeError",
    "NetserveError",
    "PortOutOfRangeError",
    "ShutdownDeadlockError",
]


class NetserveError(Exception):
    """Base class of every exception that netserve defines.

    Each subclass also derives from the built-in exception that the standard
    library would raise in its place, so existing ``except ValueError:`` code
    keeps working.

    Example:
        >>> issubclass(AddressError, NetserveError), issubclass(AddressError, ValueError)
        (True, True)
    """


class ShutdownDeadlockError(NetserveError, RuntimeError):
    """``shutdown()`` was called from the thread that runs ``serve_forever()``.

    ``socketserver`` would wait forever there; netserve refuses instead. Use
    :meth:`~netserve.BaseServer.request_shutdown`, which does not wait, from a
    handler of a synchronous server or from a signal handler.

    Example:
        >>> issubclass(ShutdownDeadlockError, RuntimeError)
        True
    """


class AddressError(NetserveError, ValueError):
    """A server address has the right type but a bad value.

    Raised for a port out of range (:class:`PortOutOfRangeError`) or a Unix
    socket path longer than the platform allows. A tuple of the wrong shape is
    an :class:`AddressTypeError`, as the socket module makes it a ``TypeError``.

    Example:
        >>> import netserve
        >>> try:
        ...     netserve.TCPServer(("127.0.0.1", 70000), netserve.BaseRequestHandler)
        ... except netserve.AddressError as exc:
        ...     print(exc)
        port 70000 is out of range 0-65535 in address ('127.0.0.1', 70000)
    """


class PortOutOfRangeError(AddressError, OverflowError):
    """A port outside 0-65535.

    Also an :class:`OverflowError`, which is what the socket module raises for
    it, so ``except OverflowError:`` written for ``socketserver`` still works.

    Example:
        >>> import netserve
        >>> try:
        ...     netserve.UDPServer(("127.0.0.1", -1), netserve.BaseRequestHandler)
        ... except OverflowError as exc:
        ...     print(type(exc).__name__, exc)
        PortOutOfRangeError port -1 is out of range 0-65535 in address ('127.0.0.1', -1)
    """


class AddressTypeError(NetserveError, TypeError):
    """A server address, or a part of it, has the wrong type.

    Example:
        >>> import netserve
        >>> try:
        ...     netserve.TCPServer(("127.0.0.1", "80"), netserve.BaseRequestHandler)
        ... except netserve.AddressTypeError as exc:
        ...     print(exc)
        port must be an int, not str: '80' in address ('127.0.0.1', '80')
    """
