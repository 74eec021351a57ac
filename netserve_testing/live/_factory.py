"""Several real servers for one test, stopped together, with a check that nothing leaked.

:class:`ServerFactory` is what the ``netserve`` fixture gives a test; it works
without pytest too, as a context manager.
"""

from __future__ import annotations

from typing import Any, List, Optional, Union

from ._harness import DEFAULT_TEARDOWN_TIMEOUT, ServerHandle
from ._kinds import ServerKind
from ._leaks import LeakCheck, private_socket_dir, remove_socket_dir
from ._records import ChecksOnExit, HandlerError, Problems

__all__ = ["ServerFactory"]


class ServerFactory(ChecksOnExit):
    """Starts servers and stops them all, then checks nothing leaked.

    The ``netserve`` pytest fixture is one of these; it works without pytest too.

    Args:
        client_timeout: Default timeout of scripted clients (5 s unless set).
        teardown_timeout: Seconds to wait for handler threads and children at close.
        check_leaks: Whether :meth:`close` checks for leaked threads, and for sockets
            and pipes the servers opened or accepted (not those of the test's own code).
        backend: ``"netserve"`` or ``"socketserver"`` for kinds; default netserve.

    Example:
        >>> import socketserver
        >>> class Upper(socketserver.StreamRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(self.rfile.readline().upper())
        >>> with ServerFactory() as factory:
        ...     server = factory.serve(Upper, "unix_stream-forking")
        ...     server.connect().send_line("hi").expect_line("HI")
        'HI'
    """

    def __init__(
        self,
        *,
        client_timeout: Optional[float] = None,
        teardown_timeout: float = DEFAULT_TEARDOWN_TIMEOUT,
        check_leaks: bool = True,
        backend: Optional[str] = None,
    ) -> None:
        self.client_timeout = client_timeout
        self.teardown_timeout = teardown_timeout
        self.check_leaks = check_leaks
        self.backend = backend
        self.servers: List[ServerHandle] = []
        self._socket_dir: Optional[str] = None
        self._leak_check: Optional[LeakCheck] = None
        self._closed = False

    def serve(
        self, handler_class: type, kind: Union[str, ServerKind] = "tcp-threading", **options: Any
    ) -> ServerHandle:
        """Start a server for ``handler_class``; see :class:`ServerHandle` for the options.

        Raises:
            ValueError: The factory is closed.

        Example:
            >>> server = factory.serve(Echo, "udp-forking", max_children=4)  # doctest: +SKIP
        """
        if self._closed:
            raise ValueError("serve(): this server factory is closed")
        if self._leak_check is None and self.check_leaks:
            self._leak_check = LeakCheck()
        options.setdefault("client_timeout", self.client_timeout)
        options.setdefault("teardown_timeout", self.teardown_timeout)
        if "backend" not in options and "server_class" not in options:
            options["backend"] = self.backend
        wants_dir = "address" not in options or options["address"] is None
        if wants_dir and "socket_dir" not in options:
            if self._socket_dir is None:
                self._socket_dir = private_socket_dir()
            options["socket_dir"] = self._socket_dir
        handle = ServerHandle(handler_class, kind, **options)
        self.servers.append(handle)
        return handle

    def take_unhandled_errors(self) -> List[HandlerError]:
        """Return the unhandled handler errors of every server not reported yet.

        Example:
            >>> len(factory.take_unhandled_errors())  # doctest: +SKIP
            0
        """
        return [error for server in self.servers for error in server.take_unhandled_errors()]

    def close(self) -> Problems:
        """Stop every server (last started first); return unhandled errors and leaks.

        Every server is closed and the socket directory removed even when closing
        one raises (the first such exception is raised after). Safe to call twice
        (the second call returns nothing).

        Example:
            >>> errors, leaks = factory.close()  # doctest: +SKIP
        """
        if self._closed:
            return [], []
        self._closed = True
        errors: List[HandlerError] = []
        leaks: List[str] = []
        failure: Optional[BaseException] = None
        for server in reversed(self.servers):
            try:
                server_errors, server_leaks = server.close()
            except BaseException as exc:  # noqa: BLE001 - raised below, after the others close
                failure = failure or exc
                continue
            errors.extend(server_errors)
            leaks.extend(server_leaks)
        if self._socket_dir is not None:
            leaks.extend(remove_socket_dir(self._socket_dir))
        if self._leak_check is not None:
            reported = {thread for server in self.servers for thread in server.reported_threads}
            owned = {t: what for server in self.servers for t, what in server._owned().items()}
            leaks.extend(self._leak_check.leaks(reported, owned))
        if failure is not None:
            raise failure
        return errors, leaks
