"""The kinds of server a handler can be served by: transport x concurrency.

A :class:`ServerKind` names one server class, such as ``tcp-threading``
(``ThreadingTCPServer``) or ``unix_dgram-forking``
(``ForkingUnixDatagramServer``). :func:`select_kinds` turns a selector such as
``"stream"`` into the list of kinds a test runs across. The TLS kinds (``tls-sync``,
``tls-threading``, ``tls-forking``, ``tls-pool``: TLS over TCP on 127.0.0.1) are opt-in,
as the IPv6 ones are: only a selector naming ``tls`` adds them.
"""

from __future__ import annotations

import socket
import socketserver
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import netserve

__all__ = [
    "ALL_KINDS",
    "CONCURRENCIES",
    "TRANSPORTS",
    "ServerKind",
    "select_kinds",
]

#: Transports in the default matrix (``tcp6`` and ``udp6`` are served on ``::1`` on request).
TRANSPORTS: Tuple[str, ...] = ("tcp", "udp", "unix_stream", "unix_dgram")
_EXTRA_TRANSPORTS: Tuple[str, ...] = ("tcp6", "udp6", "tls", "tls6")
#: How a server runs its requests: in the serving thread, a thread each, a child each, a pool.
CONCURRENCIES: Tuple[str, ...] = ("sync", "threading", "forking", "pool")

_BASES = {
    "tcp": "TCPServer",
    "tcp6": "TCPServer",
    "udp": "UDPServer",
    "udp6": "UDPServer",
    "unix_stream": "UnixStreamServer",
    "unix_dgram": "UnixDatagramServer",
    "tls": "TLSTCPServer",
    "tls6": "TLSTCPServer",
}
_PREFIXES = {"sync": "", "threading": "Threading", "forking": "Forking", "pool": "ThreadPool"}
_MIXINS = {"threading": "ThreadingMixIn", "forking": "ForkingMixIn", "pool": "ThreadPoolMixIn"}
_FAMILIES = {
    "tcp": socket.AF_INET,
    "udp": socket.AF_INET,
    "tcp6": socket.AF_INET6,
    "udp6": socket.AF_INET6,
    "unix_stream": socket.AF_UNIX,
    "unix_dgram": socket.AF_UNIX,
    "tls": socket.AF_INET,
    "tls6": socket.AF_INET6,
}
# Selectors that name a group of kinds rather than one transport or concurrency.
_GROUPS: Dict[str, Callable[[ServerKind], bool]] = {
    "all": lambda kind: True,
    "stream": lambda kind: kind.is_stream,
    "datagram": lambda kind: not kind.is_stream,
    "inet": lambda kind: kind.family != socket.AF_UNIX,
    "unix": lambda kind: kind.family == socket.AF_UNIX,
}


@dataclass(frozen=True)
class ServerKind:
    """One kind of server: a transport served with one kind of concurrency.

    Attributes:
        transport: ``"tcp"``, ``"tcp6"``, ``"udp"``, ``"udp6"``, ``"unix_stream"``,
            ``"unix_dgram"``, ``"tls"`` or ``"tls6"`` (TLS over TCP, IPv4 or IPv6).
        concurrency: ``"sync"``, ``"threading"``, ``"forking"`` or ``"pool"``.

    Example:
        >>> kind = ServerKind.parse("unix_dgram-forking")
        >>> kind.id, kind.is_stream, kind.class_name
        ('unix_dgram-forking', False, 'ForkingUnixDatagramServer')
    """

    transport: str
    concurrency: str

    def __post_init__(self) -> None:
        if self.transport not in _BASES:
            known = ", ".join(_BASES)
            raise ValueError(f"unknown transport {self.transport!r}, expected one of: {known}")
        if self.concurrency not in _PREFIXES:
            known = ", ".join(CONCURRENCIES)
            raise ValueError(f"unknown concurrency {self.concurrency!r}, expected one of: {known}")

    @classmethod
    def parse(cls, value: Union[str, ServerKind]) -> ServerKind:
        """Return the kind named ``value``, such as ``"tcp-threading"``.

        A bare transport (``"udp"``) means its threading kind.

        Raises:
            ValueError: ``value`` names no kind.

        Example:
            >>> ServerKind.parse("udp")
            ServerKind('udp-threading')
        """
        if isinstance(value, ServerKind):
            return value
        if not isinstance(value, str):
            raise TypeError(f"a server kind is a str such as 'tcp-threading', not {value!r}")
        transport, _, concurrency = value.partition("-")
        try:
            return cls(transport, concurrency or "threading")
        except ValueError as exc:
            raise ValueError(f"unknown server kind {value!r}: {exc}") from None

    @property
    def id(self) -> str:
        """The kind's test id, ``"<transport>-<concurrency>"``."""
        return f"{self.transport}-{self.concurrency}"

    @property
    def is_stream(self) -> bool:
        """Whether the kind serves a stream (TCP, Unix stream) rather than datagrams."""
        return self.transport in ("tcp", "tcp6", "unix_stream", "tls", "tls6")

    @property
    def is_tls(self) -> bool:
        """Whether the kind serves TLS (``tls-*``, a :class:`netserve.TLSMixIn` server)."""
        return self.transport in ("tls", "tls6")

    @property
    def family(self) -> int:
        """The socket address family: ``AF_INET``, ``AF_INET6`` or ``AF_UNIX``."""
        return int(_FAMILIES[self.transport])

    @property
    def class_name(self) -> str:
        """The name of the server class in :mod:`netserve` (and mostly in :mod:`socketserver`)."""
        return _PREFIXES[self.concurrency] + _BASES[self.transport]

    def server_class(self, backend: Optional[str] = None) -> type[Any]:
        """Return the server class of this kind.

        Args:
            backend: ``"netserve"`` (also ``None``, the default) or
                ``"socketserver"`` (the standard library).

        Raises:
            ValueError: The backend has no such class (the standard library has
                no thread pool server).

        Example:
            >>> ServerKind.parse("tcp-sync").server_class("socketserver").__name__
            'TCPServer'
        """
        module: ModuleType
        if self.is_tls and backend == "socketserver":
            raise ValueError(f"server kind {self.id!r} needs netserve: socketserver has no tls")
        if backend is None or backend == "netserve":
            module = netserve
        elif backend == "socketserver":
            module = socketserver
        else:
            raise ValueError(f"unknown backend {backend!r}, expected 'netserve' or 'socketserver'")
        found = getattr(module, self.class_name, None)
        if isinstance(found, type):
            return found
        mixin = getattr(module, _MIXINS.get(self.concurrency, ""), None)
        base = getattr(module, _BASES[self.transport])
        if not isinstance(mixin, type):
            raise ValueError(
                f"server kind {self.id!r} needs {self.class_name}, not in {module.__name__}"
            )
        # The standard library before 3.12 has no ForkingUnix*Server: compose it.
        return type(self.class_name, (mixin, base), {"__module__": __name__})

    def __str__(self) -> str:
        return self.id

    def __repr__(self) -> str:
        return f"ServerKind({self.id!r})"


#: Every kind of the default matrix: 4 transports x 4 concurrencies.
ALL_KINDS: Tuple[ServerKind, ...] = tuple(
    ServerKind(transport, concurrency) for transport in TRANSPORTS for concurrency in CONCURRENCIES
)


def select_kinds(*selectors: Union[str, Iterable[str]]) -> List[ServerKind]:
    """Return the kinds matching every selector, in matrix order.

    A selector is a group (``"all"``, ``"stream"``, ``"datagram"``, ``"inet"``,
    ``"unix"``), a transport (``"tcp"``, ``"unix_dgram"``...), a concurrency
    (``"forking"``...) or a kind id (``"udp-pool"``); ``"a,b"`` or a list means
    either. Several selectors narrow: ``select_kinds("stream", "threading")``.
    Naming ``tcp6``/``udp6`` adds the IPv6 kinds, and naming ``tls`` (or a ``tls-*`` id)
    the TLS kinds (``tls6``: TLS on ``::1``): none is in the default matrix.

    Raises:
        ValueError: A selector matches nothing it could name.

    Example:
        >>> [kind.id for kind in select_kinds("datagram", "sync,forking")]
        ['udp-sync', 'udp-forking', 'unix_dgram-sync', 'unix_dgram-forking']
        >>> [kind.id for kind in select_kinds("tcp,tls", "threading")]
        ['tcp-threading', 'tls-threading']
    """
    groups = []
    for selector in selectors or ("all",):
        names = selector.split(",") if isinstance(selector, str) else list(selector)
        names = [name.strip() for name in names if name.strip()]
        if not names:
            raise ValueError(f"empty server kind selector: {selector!r}")
        groups.append(names)
    chosen: List[ServerKind] = list(ALL_KINDS)
    # A selector naming an IPv6 transport brings the IPv6 kinds in, and then every
    # selector narrows them as it narrows the others.
    if any(name.split("-")[0] in _EXTRA_TRANSPORTS for names in groups for name in names):
        chosen.extend(ServerKind(t, c) for t in _EXTRA_TRANSPORTS for c in CONCURRENCIES)
    for names in groups:
        chosen = [kind for kind in chosen if any(_matches(kind, name) for name in names)]
    return chosen


def _matches(kind: ServerKind, name: str) -> bool:
    if name in _GROUPS:
        return bool(_GROUPS[name](kind))
    if name in _BASES:
        return kind.transport == name
    if name in _PREFIXES:
        return kind.concurrency == name
    if "-" in name:
        return kind == ServerKind.parse(name)
    groups = ", ".join([*_GROUPS, *_BASES, *_PREFIXES])
    raise ValueError(
        f"unknown server kind selector {name!r}, expected a kind id or one of: {groups}"
    )
