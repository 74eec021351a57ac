"""Checking server addresses before any socket is created, and naming bad values."""

from __future__ import annotations

import operator
import os
import socket
import sys

from ._errors import AddressError, AddressTypeError, PortOutOfRangeError

TYPE_CHECKING = False  # typing is for type checkers only (the cost of "import netserve")
if TYPE_CHECKING:
    from typing import Any, Tuple

# Size of ``sockaddr_un.sun_path``: 108 on Linux, 104 on macOS and the BSDs.
SUN_PATH_SIZE = 108 if sys.platform.startswith("linux") else 104
#: Longest filesystem path a Unix socket can bind (one byte is the terminating NUL).
UNIX_PATH_LIMIT = SUN_PATH_SIZE - 1

_IP_FAMILIES = (socket.AF_INET, socket.AF_INET6)
_AF_UNIX = getattr(socket, "AF_UNIX", None)


def _check_integer(value: object, what: str, address: object) -> int:
    # Like the socket module: any integer (operator.index) but bool, which in an
    # address is always a mistake.
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise AddressTypeError(
            f"{what} must be an int, not {type(value).__name__}: {value!r} in address {address!r}"
        ) from None


def _check_port(port: object, address: object) -> int:
    number = _check_integer(port, "port", address)
    if not 0 <= number <= 65535:
        raise PortOutOfRangeError(f"port {number} is out of range 0-65535 in address {address!r}")
    return number


def _is_ipv6_literal(host: object) -> bool:
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", "replace")
    return isinstance(host, str) and ":" in host


def check_ip_address(family: int, address: object) -> Tuple[int, Tuple[Any, ...]]:
    """Validate an IP server address; return the family it needs and the address.

    The family follows the address: an IPv6 literal host (``"::1"``) selects
    ``AF_INET6`` even when the class says ``AF_INET``. Ports, flowinfo and
    scope ids may be any integer type (``operator.index``), as for ``socket``.
    """
    if not isinstance(address, tuple):
        raise AddressTypeError(
            f"an IP server address must be a (host, port) tuple, "
            f"not {type(address).__name__}: {address!r}"
        )
    if not 2 <= len(address) <= 4:
        # The socket module raises TypeError for a tuple of the wrong shape, too.
        raise AddressTypeError(
            f"an IP server address has 2 to 4 items (host, port[, flowinfo, scope_id]), "
            f"not {len(address)}: {address!r}"
        )
    host = address[0]
    if not isinstance(host, (str, bytes, bytearray)):
        raise AddressTypeError(
            f"host must be str or bytes, not {type(host).__name__}: {host!r} in address {address!r}"
        )
    port = _check_port(address[1], address)
    extras = tuple(_check_integer(extra, "flowinfo and scope_id", address) for extra in address[2:])
    if _is_ipv6_literal(host):
        family = socket.AF_INET6
    if family == socket.AF_INET and extras:
        # The socket module says the same for AF_INET: "address must be a pair".
        raise AddressTypeError(
            f"an IPv4 server address is a (host, port) pair, not {len(address)} items: {address!r}"
        )
    return family, (host, port, *extras)


def check_unix_address(address: object) -> Any:
    """Validate a Unix socket address (``str``, ``bytes`` or path-like); return it as str/bytes.

    A leading NUL byte names a Linux abstract socket, which has no file and may
    use the whole ``sun_path``; a filesystem path needs room for its NUL.
    """
    if isinstance(address, (bytearray, memoryview)):
        address = bytes(address)
    if not isinstance(address, (str, bytes, os.PathLike)):
        raise AddressTypeError(
            f"a unix socket address must be str, bytes or os.PathLike, "
            f"not {type(address).__name__}: {address!r}"
        )
    path: Any = os.fspath(address)
    raw = os.fsencode(path)
    abstract = raw.startswith(b"\0")
    if abstract:
        if len(raw) > SUN_PATH_SIZE:
            raise AddressError(
                f"abstract unix socket name is {len(raw)} bytes, "
                f"the limit is {SUN_PATH_SIZE}: {path!r}"
            )
        return path
    if b"\0" in raw:
        raise AddressError(f"unix socket path contains a NUL byte: {path!r}")
    if len(raw) > UNIX_PATH_LIMIT:
        raise AddressError(
            f"unix socket path is {len(raw)} bytes, the limit is {UNIX_PATH_LIMIT}: {path!r}"
        )
    return path


def check_server_address(family: int, address: object) -> Tuple[int, Any]:
    """Validate ``address`` for a server of ``family``; return the family to use and the address.

    Families netserve does not know (``AF_VSOCK``, ...) pass through unchanged:
    the socket module checks them at bind time.
    """
    if family in _IP_FAMILIES:
        return check_ip_address(family, address)
    if _AF_UNIX is not None and family == _AF_UNIX:
        return family, check_unix_address(address)
    return family, address


def describe_bind_error(exc: OSError, address: object) -> OSError:
    """Return ``exc`` re-made to name the address, same class, errno and ``strerror``.

    The address goes where ``OSError`` shows a file name:
    ``[Errno 98] Address already in use: ('127.0.0.1', 8000)``.
    """
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, address)
