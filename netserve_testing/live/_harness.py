"""One real server for a test: start any server class on an ephemeral address, stop it completely.

:class:`ServerHandle` runs one server (a netserve class, a standard library
:mod:`socketserver` class, or a subclass of either) in a thread, records every
request and every handler error (from forked children too), and on
:meth:`~ServerHandle.close` shuts it down within a deadline, joins its threads,
reaps its children and removes its socket file. It does not need pytest.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import ssl
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Set, Union

import netserve
from netserve._address import check_unix_address

from .._tls import session_ca
from ._clients import DEFAULT_TIMEOUT, DatagramClient, StreamClient, connect
from ._closing import close_gracefully
from ._faults import Fault
from ._forked import (
    STACK_SIGNAL,
    leave_ctrl_c_to_main_thread,
    register_address,
    unregister_address,
)
from ._kinds import ServerKind
from ._leaks import (
    kill_child,
    open_sockets,
    private_socket_dir,
    remove_socket_dir,
    wait_for_children,
)
from ._proxy import FaultProxy
from ._recorder import Recorder, _library_default, instrument, name_key
from ._records import (
    ChecksOnExit,
    HandlerError,
    HandlerErrors,
    Problems,
    RequestRecord,
    RequestsTimeout,
)
from ._stacks import abandoned, indent, thread_stack
from ._tls_client import TLSClient, client_hello

__all__ = ["DEFAULT_TEARDOWN_TIMEOUT", "STDLIB_POLL_INTERVAL", "ServerHandle", "serve"]

#: Seconds teardown waits for handler threads and forked children to finish.
DEFAULT_TEARDOWN_TIMEOUT = 5.0
# Seconds a stuck forked child gets, past the deadline, to send its stack before it is killed.
_STACK_GRACE = 0.5
#: ``serve_forever()`` poll interval for servers whose ``shutdown()`` polls (the stdlib's).
STDLIB_POLL_INTERVAL = 0.005

Client = Union[StreamClient, DatagramClient]

#: The clients ``connect(tls=...)`` makes for a TLS server, besides a verifying one.
TLS_CLIENT_MODES = ("verify", "no-cert", "untrusted", "plaintext", "silent", "mid-handshake")

# Seconds server_close() gets, past the teardown deadline, to close what it can when
# something is stuck (it closes the listening socket before it waits for threads).
_CLOSE_GRACE = 0.1

# Socket file names, unique in the process: s1.sock, s2.sock...
_serial_lock = threading.Lock()
_serials = itertools.count(1)


def _next_serial() -> int:
    with _serial_lock:
        return next(_serials)


class ServerHandle(ChecksOnExit):
    """A real server running in a thread, with its requests, errors and clients.

    Usually made by :func:`serve`, :meth:`ServerFactory.serve` or the ``netserve``
    pytest fixture. The server binds at once (port 0 or a fresh Unix path, kept),
    so :attr:`address` is valid and clients can connect as soon as it returns.

    Args:
        handler_class: The request handler class.
        kind: A :class:`~netserve_testing.ServerKind` or its id (default
            ``"tcp-threading"``); ignored when ``server_class`` is given.
        server_class: A server class to serve with instead of the kind's, such as
            ``socketserver.ThreadingTCPServer`` or a subclass of your own.
        address: Where to bind. Default: ``("127.0.0.1", 0)``, ``("::1", 0)`` or a
            fresh path in a private directory, after the class's address family.
        backend: ``"netserve"`` or ``"socketserver"`` for the kind's class.
        attrs: Attributes set on the server instance, for handlers to read
            (``self.server.<name>``).
        poll_interval: ``serve_forever()`` poll interval; default: short for
            standard library classes, whose ``shutdown()`` waits for it.
        client_timeout: Default timeout of clients from :meth:`connect`.
        teardown_timeout: Seconds :meth:`close` waits for handler threads and children.
        socket_dir: Directory for the default Unix socket path (created if ``None``).
        mtls: For a TLS server (a ``tls-*`` kind, or a :class:`netserve.TLSMixIn`
            class): require a client certificate from the session CA; the kit's clients
            then present one (mutual TLS).
        **options: Server class attributes, such as ``daemon_threads``,
            ``block_on_close``, ``timeout``, ``max_children``, ``request_queue_size``,
            and for TLS ``ssl_context`` (default: the session CA's server context, a
            certificate for localhost, 127.0.0.1 and ::1) and ``handshake_timeout``
            (default: half the client timeout, unless the server class sets one).

    Raises:
        TypeError: An option is not an attribute of the server class.
        ValueError: ``mtls`` for a server that does not speak TLS.

    Example:
        >>> import socketserver
        >>> class Upper(socketserver.StreamRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(self.rfile.readline().upper())
        >>> with serve(Upper, server_class=socketserver.ThreadingTCPServer) as server:
        ...     server.connect().send_line("hi").expect_line("HI")
        'HI'
    """

    def __init__(
        self,
        handler_class: type,
        kind: Union[str, ServerKind] = "tcp-threading",
        *,
        server_class: Optional[type] = None,
        address: Any = None,
        backend: Optional[str] = None,
        attrs: Optional[Mapping[str, Any]] = None,
        poll_interval: Optional[float] = None,
        client_timeout: Optional[float] = None,
        teardown_timeout: float = DEFAULT_TEARDOWN_TIMEOUT,
        socket_dir: Optional[str] = None,
        mtls: bool = False,
        **options: Any,
    ) -> None:
        self.kind: Optional[ServerKind] = None
        if server_class is None:
            self.kind = ServerKind.parse(kind)
            server_class = self.kind.server_class(backend)
        self.server_class = server_class
        #: Whether the server speaks TLS (its class derives from ``netserve.TLSMixIn``).
        self.is_tls = isinstance(server_class, type) and issubclass(server_class, netserve.TLSMixIn)
        if mtls and not self.is_tls:
            raise ValueError(f"mtls=True needs a tls server, not {server_class.__name__}")
        self.mtls = mtls
        if self.is_tls and (mtls or getattr(server_class, "ssl_context", None) is None):
            options.setdefault("ssl_context", session_ca().server_context(require_client_cert=mtls))
        if self.is_tls and _library_default(server_class, "handshake_timeout"):
            # A silent client holds a sync server (or a worker) until its handshake times
            # out: well within the clients' timeout, the next client is still served.
            options.setdefault("handshake_timeout", (client_timeout or DEFAULT_TIMEOUT) / 2)
        self.client_timeout = client_timeout
        self.teardown_timeout = teardown_timeout
        #: Threads a leak line of this server names already (for the factory's thread check).
        self.reported_threads: Set[threading.Thread] = set()
        self._clients: List[Client] = []
        self._proxies: List[FaultProxy] = []
        self._closed = False
        self._own_dir: Optional[str] = None
        self._socket_file: Optional[str] = None
        self._leaks: List[str] = []
        self._stuck = False  # teardown found something still running at its deadline
        namespace = dict(options)
        address = self._address(server_class, address, socket_dir)
        family = _family_of_address(address, server_class)
        if getattr(server_class, "address_family", family) != family:
            namespace["address_family"] = family
        before = open_sockets()
        try:
            self.server = instrument(server_class, namespace)(address, handler_class)
        except BaseException:
            self._remove_dir()
            raise
        # What the server opened (its socket, a wake-up pipe...) is its own, for leak checks.
        opened = {t for fd, t in open_sockets().items() if before.get(fd) != t}
        for name, value in (attrs or {}).items():
            setattr(self.server, name, value)
        if isinstance(self.server.server_address, str):
            self._socket_file = self.server.server_address
        forking = hasattr(server_class, "collect_children")
        self._recorder = Recorder(f"{server_class.__name__} at {self.address!r}", forking)
        self.server._netserve_recorder = self._recorder
        what = f"opened by {server_class.__name__} at {self.address!r}"
        self._recorder.owned.update(dict.fromkeys(opened, what))
        self._client_names: Dict[Any, Client] = {}  # a kit client's own address -> client
        self._client_keys: Dict[int, Any] = {}  # id() of each kit client -> its address
        register_address(self.address)
        self._recorder.start()
        if poll_interval is None:
            poll_interval = 0.5 if _is_netserve_class(server_class) else STDLIB_POLL_INTERVAL
        self._thread = threading.Thread(
            target=self._serve,
            args=(poll_interval,),
            name=f"netserve {server_class.__name__} {self.address!r}",
            daemon=True,
        )
        self._thread.start()

    def _address(self, server_class: type, address: Any, socket_dir: Optional[str]) -> Any:
        if address is not None:
            if isinstance(address, (str, bytes, os.PathLike)):
                check_unix_address(address)
            return address
        family = getattr(server_class, "address_family", socket.AF_INET)
        if self.kind is not None:
            family = self.kind.family
        if family == socket.AF_UNIX:
            if socket_dir is None:
                socket_dir = self._own_dir = private_socket_dir()
            path = os.path.join(socket_dir, f"s{_next_serial()}.sock")
            check_unix_address(path)
            return path
        return ("::1", 0) if family == socket.AF_INET6 else ("127.0.0.1", 0)

    def _serve(self, poll_interval: float) -> None:
        leave_ctrl_c_to_main_thread()  # handler threads inherit it
        try:
            self.server.serve_forever(poll_interval)
        except BaseException as exc:  # noqa: BLE001 - recorded, reported at teardown
            error = HandlerError.capture(
                exc, None, f"serve_forever() of {self._recorder.description}"
            )
            self._recorder.publish(error)

    # -- the test's side ----------------------------------------------------------------------

    @property
    def address(self) -> Any:
        """The bound address: ``(host, port)`` with the real port, or the Unix path."""
        return self.server.server_address

    @property
    def is_stream(self) -> bool:
        """Whether the server serves a stream (``SOCK_STREAM``) socket."""
        return bool(self.server.socket_type == socket.SOCK_STREAM)

    def connect(
        self,
        timeout: Optional[float] = None,
        *,
        tls: Union[str, ssl.SSLContext, None] = None,
    ) -> Client:
        """Return a scripted client connected to the server (closed when the server is).

        For a TLS server the client is a :class:`~netserve_testing.TLSClient` that
        verifies the server against the session CA (and presents the kit's client
        certificate when the server was started with ``mtls=True``).

        Args:
            timeout: Seconds to wait for any one expectation; default: the handle's
                ``client_timeout`` (5 s unless set).
            tls: For a TLS server, which client: ``"verify"`` (the default),
                ``"no-cert"`` (no client certificate), ``"untrusted"`` (trusts another
                CA: the handshake raises ``ssl.SSLCertVerificationError`` here),
                ``"plaintext"`` (a plain stream client on the TLS port),
                ``"silent"`` (connects and sends nothing), ``"mid-handshake"`` (sends
                half a ClientHello, then nothing), or an ``ssl.SSLContext`` of your own.

        Raises:
            ValueError: The server is closed, or ``tls`` is unknown or given for a
                server that does not speak TLS.

        Example:
            >>> server.connect().send_line("hi").expect_line("HI")  # doctest: +SKIP
        """
        if self._closed:
            raise ValueError(f"connect(): the server {self._recorder.description} is closed")
        timeout = self.client_timeout if timeout is None else timeout
        if tls is not None and not self.is_tls:
            raise ValueError(f"connect(tls={tls!r}): {self._recorder.description} is not tls")
        client: Client
        if self.is_tls:
            client = self._tls_client(tls, timeout)
        else:
            client = connect(self.address, "stream" if self.is_stream else "datagram", timeout)
        self._clients.append(client)
        with contextlib.suppress(OSError):
            name = self._client_keys[id(client)] = name_key(client.sock.getsockname())
            self._client_names[name] = client
        return client

    def _tls_client(self, mode: Union[str, ssl.SSLContext, None], timeout: Any) -> Client:
        family_name = "stream"
        if isinstance(mode, ssl.SSLContext):
            return TLSClient(self.address, mode, timeout)
        if mode is None or mode == "verify":
            context = session_ca().shared_client_context(with_cert=self.mtls)
            return TLSClient(self.address, context, timeout)
        if mode == "no-cert":
            return TLSClient(self.address, session_ca().shared_client_context(), timeout)
        if mode == "untrusted":
            context = session_ca()._shared_untrusting_client_context()
            return TLSClient(self.address, context, timeout)
        if mode in ("plaintext", "silent", "mid-handshake"):
            client = connect(self.address, family_name, timeout)
            if mode == "mid-handshake":
                hello = client_hello(session_ca().shared_client_context())
                client.send(hello[: len(hello) // 2])
            return client
        modes = ", ".join(TLS_CLIENT_MODES)
        raise ValueError(f"unknown tls client {mode!r}, expected an ssl.SSLContext or: {modes}")

    def proxy(self, *faults: Fault, seed: Optional[int] = None) -> FaultProxy:
        """Return a :class:`~netserve_testing.FaultProxy` in front of the server (closed with it).

        Example:
            >>> proxy = server.proxy(Slice(4), Latency(0.01))  # doctest: +SKIP
            >>> proxy.connect().send_line("hi").expect_line("HI")  # doctest: +SKIP
            'HI'
        """
        if self._closed:
            raise ValueError(f"proxy(): the server {self._recorder.description} is closed")
        kind = "stream" if self.is_stream else "datagram"
        proxy = FaultProxy(
            self.address, *faults, seed=seed, kind=kind, client_timeout=self.client_timeout
        )
        self._proxies.append(proxy)
        return proxy

    @property
    def errors(self) -> HandlerErrors:
        """Handler errors so far (from threads and forked children alike)."""
        self._recorder.sync()
        with self._recorder.cond:
            return HandlerErrors(list(self._recorder.errors))

    @property
    def requests(self) -> List[RequestRecord]:
        """Requests processed so far, in the order they ended."""
        self._recorder.sync()
        with self._recorder.cond:
            return list(self._recorder.requests)

    def wait_for_requests(
        self, count: int = 1, timeout: Optional[float] = None
    ) -> List[RequestRecord]:
        """Wait until ``count`` requests have ended (successfully or not); return them all.

        Wakes as soon as a request ends (no polling, no sleep).

        Args:
            count: How many requests, in total since the server started.
            timeout: Seconds to wait; default: the client timeout (5 s unless set).

        Raises:
            RequestsTimeout: Fewer requests ended in time.

        Example:
            >>> server.connect().send(b"x").close()  # doctest: +SKIP
            >>> [record.error for record in server.wait_for_requests(1)]  # doctest: +SKIP
            [None]
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        limit = timeout if timeout is not None else (self.client_timeout or 5.0)
        if not self._recorder.wait(count, limit):
            done = len(self.requests)
            raise RequestsTimeout(
                f"waited {limit:g} s for {count} requests to {self._recorder.description}, "
                f"{done} ended"
            )
        return self.requests

    # -- teardown -----------------------------------------------------------------------------

    def close(self) -> Problems:
        """Stop the server completely; return its unhandled errors and what it leaked.

        Closes the clients from :meth:`connect`, asks the server to shut down,
        joins the serving thread, waits (until ``teardown_timeout`` after the
        start of the close) for accepted requests and forked children, kills and
        reaps children still running, calls ``server_close()`` (in a thread of its
        own, not waited for past the deadline, if something is stuck), and removes
        the socket file. Nothing in it waits without that deadline; what is still
        running then is reported, not waited for. Safe to call twice (the second
        call returns nothing).

        Returns:
            ``(errors, leaks)``: unhandled, unreported :class:`HandlerError` records,
            and one line per request, thread or child process still running.

        Example:
            >>> errors, leaks = server.close()  # doctest: +SKIP
            >>> errors, leaks  # doctest: +SKIP
            ([], [])
        """
        if self._closed:
            return [], []
        self._closed = True
        deadline = time.monotonic() + self.teardown_timeout
        recorder = self._recorder
        started = recorder.teardown_started = time.monotonic()
        for client in self._clients:  # open now, or ended by its with block: the kit's doing
            name = self._client_keys.get(id(client))
            ended = started if not client.closed else client.kit_closed_at
            if name is not None and ended is not None:  # Unix clients share one name: earliest
                recorder.kit_closed[name] = min(ended, recorder.kit_closed.get(name, ended))
        for proxy in self._proxies:  # what a proxy's close resets is teardown's doing too
            recorder.kit_closed.update((name_key(name), started) for name in proxy.open_upstreams())
        try:
            for client in self._clients:
                close_gracefully(client)
            for proxy in self._proxies:
                self._leaks.extend(proxy.teardown())
            if self._thread.is_alive():
                _request_shutdown(self.server)
            self._thread.join(_remaining(deadline))
            self._wait_handlers(deadline)
            if self._thread.is_alive():
                self._stuck = True
                if self._thread not in self.reported_threads:
                    self.reported_threads.add(self._thread)
                    self._leaks.append(f"serving thread still running: {self._thread!r}")
            self._wait_children(deadline)
            if self._stuck:
                self._close_server_within(deadline)
            else:
                self.server.server_close()
        finally:
            self._join_handler_threads(deadline)
            self._reap_children()
            self._close_recorder()
            errors = self._recorder.take_unhandled()
            unregister_address(self.address)
            if self._socket_file is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._socket_file)
            self._remove_dir()
        return errors, list(self._leaks)

    def _owned(self) -> Dict[str, str]:
        # {fd_target(): what it is} of the sockets and pipes the server opened or accepted.
        with self._recorder.cond:
            return dict(self._recorder.owned)

    def take_unhandled_errors(self) -> List[HandlerError]:
        """Return the unhandled errors not reported yet, and mark them reported.

        Example:
            >>> [error.type_name for error in server.take_unhandled_errors()]  # doctest: +SKIP
            ['ValueError']
        """
        return self._recorder.take_unhandled()

    def _wait_handlers(self, deadline: float) -> None:
        # Accepted requests (running or queued) get until the deadline; then server_close()
        # is told not to wait for handler threads, and the stuck requests are reported.
        recorder = self._recorder
        if recorder.wait_idle(deadline):
            return
        self._stuck = True
        self.server.block_on_close = False
        with recorder.cond:
            stuck = dict(recorder.in_flight)
            waiting = recorder.pending - len(stuck)
        for thread, client_address in stuck.items():
            self.reported_threads.add(thread)
            self._leaks.append(
                f"request from {client_address!r} still being handled in {thread!r} "
                f"{self.teardown_timeout:g} s after shutdown of {recorder.description} "
                f"{abandoned(thread)}\n{self._where(thread_stack(thread), client_address)}"
            )
        if waiting > 0:
            self._leaks.append(
                f"{waiting} accepted request(s) never reached the handler "
                f"{self.teardown_timeout:g} s after shutdown of {recorder.description}"
            )

    def _join_handler_threads(self, deadline: float) -> None:
        with self._recorder.cond:
            threads = [t for t in self._recorder.handler_threads if t is not self._thread]
        for thread in threads:
            thread.join(_remaining(deadline))
            if thread.is_alive() and thread not in self.reported_threads:
                self.reported_threads.add(thread)
                self._leaks.append(
                    f"handler thread still running after server_close(): {thread!r} "
                    f"of {self._recorder.description}"
                )

    def _children(self) -> Set[int]:
        active = getattr(self.server, "active_children", None) or set()
        return set(active) | self._recorder.child_pids

    def _wait_children(self, deadline: float) -> None:
        pids = self._children()
        if not pids:
            return
        recorder = self._recorder
        stuck = wait_for_children(pids, deadline, recorder.child_exited)
        stacks = recorder.ask_stacks(stuck, STACK_SIGNAL, _STACK_GRACE)
        for pid in sorted(stuck):
            with recorder.cond:
                client_address = recorder.child_clients.get(pid)
            stack = stacks.get(pid, "(no stack: the child did not answer; it may block signals)")
            self._leaks.append(
                f"child process {pid} still running {self.teardown_timeout:g} s after "
                f"shutdown of {recorder.description} (killed), handling the request from "
                f"{client_address!r}\n{self._where(stack, client_address)}"
            )
            kill_child(pid)
        if stuck:
            self._stuck = True
            self.server.block_on_close = False

    def _where(self, stack: str, client_address: Any) -> str:
        # The stack of a stuck handler, and the transcript of the kit client that drove it.
        text = "  stack of the handler (most recent call last):\n" + indent(stack, "    ")
        client = self._client_names.get(name_key(client_address))
        if client is None and self.kind is not None and self.kind.family == socket.AF_UNIX:
            unique = [c for c in self._clients if isinstance(c, StreamClient)]
            client = unique[0] if len(unique) == 1 and self.is_stream else None
        if client is not None:
            text += "\n  transcript of its client:\n" + indent(client.transcript.format(), "    ")
        return text

    def _close_server_within(self, deadline: float) -> None:
        # Something is stuck, and server_close() may wait for it whatever block_on_close
        # says (the standard library's ThreadingMixIn joins its threads since 3.11):
        # call it in a thread of its own, and stop waiting for it at the deadline.
        failures: List[BaseException] = []

        def close_server() -> None:
            try:
                self.server.server_close()
            except BaseException as exc:  # noqa: BLE001 - raised again in the closing thread
                failures.append(exc)

        description = self._recorder.description
        closer = threading.Thread(
            target=close_server, name=f"netserve server_close() of {description}", daemon=True
        )
        closer.start()
        closer.join(max(_remaining(deadline), _CLOSE_GRACE))
        if closer.is_alive():
            self.reported_threads.add(closer)
            self._leaks.append(
                f"server_close() of {description} still waiting "
                f"{self.teardown_timeout:g} s after shutdown (for a stuck handler thread?)"
            )
        elif failures:
            raise failures[0]

    def _close_recorder(self) -> None:
        # After the children are gone: every record they sent is stored, then the reader ends.
        reader = self._recorder.close()
        if reader is not None:
            self.reported_threads.add(reader)
            self._leaks.append(
                f"records reader of {self._recorder.description} did not end: {reader!r}"
            )

    def _reap_children(self) -> None:
        for pid in self._children():
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done:
                self._recorder.child_exited(pid, status)
            else:
                self._leaks.append(f"child process {pid} left running by server_close() (killed)")
                kill_child(pid)

    def _remove_dir(self) -> None:
        if self._own_dir is not None:
            directory, self._own_dir = self._own_dir, None
            self._leaks.extend(remove_socket_dir(directory))

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"<ServerHandle {self._recorder.description} ({state})>"


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _request_shutdown(server: Any) -> None:
    # Ask serve_forever() to stop without waiting: the caller joins the serving thread
    # with a deadline, which a stdlib shutdown() (it waits without one) cannot give.
    if hasattr(server, "request_shutdown"):
        server.request_shutdown()
    elif hasattr(server, "_BaseServer__shutdown_request"):
        server._BaseServer__shutdown_request = True
    else:  # not a socketserver class: its shutdown() may wait, so not in this thread
        name = f"netserve shutdown of {type(server).__name__}"
        threading.Thread(target=server.shutdown, name=name, daemon=True).start()


def _is_netserve_class(cls: type) -> bool:
    # netserve's shutdown wakes serve_forever() at once, whatever its poll interval.
    return issubclass(cls, netserve.BaseServer)


def _family_of_address(address: Any, server_class: type) -> int:
    if isinstance(address, (str, bytes, os.PathLike)):
        return socket.AF_UNIX
    if isinstance(address, tuple) and ":" in str(address[0]):
        return socket.AF_INET6
    if isinstance(address, tuple):
        family = getattr(server_class, "address_family", socket.AF_INET)
        return socket.AF_INET if family == socket.AF_UNIX else int(family)
    raise TypeError(f"a server address is a (host, port) tuple or a unix path, not {address!r}")


def serve(
    handler_class: type, kind: Union[str, ServerKind] = "tcp-threading", **kwargs: Any
) -> ServerHandle:
    """Start a server for ``handler_class``; use it as a context manager.

    Leaving the ``with`` block stops the server and raises
    :class:`ServerCheckFailed` for unhandled handler errors or leftovers. Takes
    the arguments of :class:`ServerHandle`.

    Example:
        >>> import socketserver
        >>> class Echo(socketserver.BaseRequestHandler):
        ...     def handle(self):
        ...         data, sock = self.request
        ...         sock.sendto(data, self.client_address)
        >>> with serve(Echo, "udp-sync", backend="socketserver") as server:
        ...     server.connect().send(b"ping").expect(b"ping")
        b'ping'
    """
    return ServerHandle(handler_class, kind, **kwargs)
