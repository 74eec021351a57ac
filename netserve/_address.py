"""Checking server addresses before any socket is created, and naming bad values."""

from __future__ import annotations

import os
import socket
import sys
from typing import Any, Tuple

from ._errors import AddressError, AddressTypeError

# Size of ``sockaddr_un.sun_path``: 108 on Linux, 104 on macOS and the BSDs.
SUN_PATH_SIZE = 108 if sys.platform.startswith("linux") else 104
#: Longest filesystem path a Unix socket can bind (one byte is the terminating NUL).
UNIX_PATH_LIMIT = SUN_PATH_SIZE - 1

_IP_FAMILIES = (socket.AF_INET, socket.AF_INET6)
_AF_UNIX = getattr(socket, "AF_UNIX", None)


def _check_port(port: object, address: object) -> None:
    if isinstance(port, bool) or not isinstance(port, int):
        raise AddressTypeError(
            f"port must be an int, not {type(port).__name__}: {port!r} in address {address!r}"
        )
    if not 0 <= port <= 65535:
        raise AddressError(f"port {port} is out of range 0-65535 in address {address!r}")


def _is_ipv6_literal(host: object) -> bool:
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", "replace")
    return isinstance(host, str) and ":" in host


def check_ip_address(family: int, address: object) -> Tuple[int, Tuple[Any, ...]]:
    """Validate an IP server address; return the family it needs and the address.

    The family follows the address: an IPv6 literal (``"::1"``) or a 4-tuple
    selects ``AF_INET6`` even when the class says ``AF_INET``.
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
    host, port = address[0], address[1]
    if not isinstance(host, (str, bytes, bytearray)):
        raise AddressTypeError(
            f"host must be a str, not {type(host).__name__}: {host!r} in address {address!r}"
        )
    _check_port(port, address)
    for extra in address[2:]:
        if isinstance(extra, bool) or not isinstance(extra, int):
            raise AddressTypeError(
                f"flowinfo and scope_id must be ints, not {type(extra).__name__}: "
                f"{extra!r} in address {address!r}"
            )
    if family == socket.AF_INET and (len(address) > 2 or _is_ipv6_literal(host)):
        family = socket.AF_INET6
    return family, address


def check_unix_address(address: object) -> Any:
    """Validate a Unix socket address (``str``, ``bytes`` or path-like); return it as str/bytes.

    A leading NUL byte names a Linux abstract socket, which has no file and may
    use the whole ``sun_path``; a filesystem path needs room for its NUL.
    """
    if isinstance(address, bytearray):
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
    """Return ``exc`` re-made with the address in its message, same class and errno."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, f"{exc.strerror} (binding to {address!r})")
