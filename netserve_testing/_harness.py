"""Real servers for tests: start any server class on an ephemeral address, stop it completely.

:class:`ServerHandle` runs one server (a netserve class, a standard library
:mod:`socketserver` class, or a subclass of either) in a thread, records every
request and every handler error (from forked children too), and on
:meth:`~ServerHandle.close` shuts it down, joins its threads, reaps its
children and removes its socket file. :class:`ServerFactory` does the same for
several servers and checks that nothing leaked. Neither needs pytest.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import socket
import socketserver
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from types import TracebackType
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
    Union,
)

from ._clients import (
    DatagramClient,
    StreamClient,
    TCPClient,
    UDPClient,
    UnixDatagramClient,
    UnixStreamClient,
)
from ._errors import NetserveTestingError
from ._kinds import ServerKind

__all__ = [
    "HandlerError",
    "HandlerErrors",
    "RequestRecord",
    "RequestsTimeout",
    "ServerCheckFailed",
    "ServerFactory",
    "ServerHandle",
    "serve",
]

#: Seconds teardown waits for handler threads and forked children to finish.
DEFAULT_TEARDOWN_TIMEOUT = 5.0
#: ``serve_forever()`` poll interval for servers whose ``shutdown()`` polls (the stdlib's).
STDLIB_POLL_INTERVAL = 0.005
_UNIX_PATH_LIMIT = 107
_MAX_TRACEBACK = 32_000
_WAKE = b"w"

Client = Union[StreamClient, DatagramClient]


class ServerCheckFailed(NetserveTestingError, AssertionError):
    """A server's handlers raised errors nobody marked handled, or its teardown leaked.

    Attributes:
        errors: The unhandled :class:`HandlerError` records.
        leaks: One line per leaked thread, process, socket or socket file.

    Example:
        >>> str(ServerCheckFailed([], ["thread left running: <Thread(x)>"])).splitlines()[0]
        'netserve: 1 leak after teardown'
    """

    def __init__(self, errors: Sequence[HandlerError], leaks: Sequence[str]) -> None:
        self.errors = list(errors)
        self.leaks = list(leaks)
        super().__init__(format_problems(self.errors, self.leaks))


class RequestsTimeout(NetserveTestingError, AssertionError):
    """:meth:`ServerHandle.wait_for_requests` ran out of time.

    Example:
        >>> issubclass(RequestsTimeout, AssertionError)
        True
    """


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def format_problems(errors: Sequence[HandlerError], leaks: Sequence[str]) -> str:
    """Return the report of unhandled handler errors and leaks, each error with its traceback."""
    parts = []
    if errors:
        parts.append(_plural(len(errors), "unhandled handler error"))
    if leaks:
        parts.append(_plural(len(leaks), "leak") + " after teardown")
    lines = ["netserve: " + ", ".join(parts)]
    for number, error in enumerate(errors, 1):
        lines.append("")
        lines.append(f"--- handler error {number} of {len(errors)}: {error.describe()}")
        lines.append(error.traceback.rstrip())
    if errors:
        lines.append("")
        lines.append("(a test expecting an error marks it: server.errors.expect(ValueError))")
    if leaks:
        lines.append("")
        lines.extend(f"leak: {leak}" for leak in leaks)
    return "\n".join(lines)


# -- records ------------------------------------------------------------------------------------


@dataclass
class HandlerError:
    """An exception raised while a server processed a request (in its handler, mostly).

    Attributes:
        client_address: The client whose request raised it.
        type_names: Names of the exception's class and its bases, most derived first.
        message: ``str()`` of the exception.
        traceback: The formatted traceback, from the handler's frames on.
        server: The server class and address, for messages.
        pid: The process that raised it (a forked child's pid for forking servers).
        thread: The name of the thread that raised it.
        exception: The exception itself, or ``None`` when it came from a child and
            could not be pickled.
        handled: Whether the test marked it expected (then it does not fail the test).

    Example:
        >>> error = server.errors.expect(ValueError, match="bad input")  # doctest: +SKIP
        >>> error.client_address  # doctest: +SKIP
        ('127.0.0.1', 50122)
    """

    client_address: Any
    type_names: Tuple[str, ...]
    message: str
    traceback: str
    server: str
    pid: int
    thread: str
    exception: Optional[BaseException] = field(default=None, compare=False, repr=False)
    handled: bool = False
    reported: bool = field(default=False, repr=False)

    @property
    def type_name(self) -> str:
        """The exception's class name, such as ``"ValueError"``."""
        return self.type_names[0]

    def mark_handled(self) -> None:
        """Mark the error as expected, so it does not fail the test."""
        self.handled = True

    def matches(
        self, exc_type: Union[Type[BaseException], Tuple[Type[BaseException], ...]], match: str = ""
    ) -> bool:
        """Whether the error is an ``exc_type`` whose message contains the regex ``match``."""
        import re

        types = exc_type if isinstance(exc_type, tuple) else (exc_type,)
        if self.exception is not None:
            is_type = isinstance(self.exception, types)
        else:
            is_type = any(kind.__name__ in self.type_names for kind in types)
        return is_type and re.search(match, self.message) is not None

    def describe(self) -> str:
        """One line: type, message, client, server, process and thread."""
        where = f"pid {self.pid}" if self.pid != os.getpid() else f"thread {self.thread!r}"
        return (
            f"{self.type_name}: {self.message} (client {self.client_address!r}, "
            f"{self.server}, {where})"
        )

    @classmethod
    def capture(cls, exc: BaseException, client_address: Any, server: str) -> HandlerError:
        """Record ``exc`` (being handled now) with its traceback from the handler's frames on."""
        text = "".join(traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__)))
        if len(text) > _MAX_TRACEBACK:
            text = "... (traceback truncated)\n" + text[-_MAX_TRACEBACK:]
        return cls(
            client_address=client_address,
            type_names=tuple(k.__name__ for k in type(exc).__mro__ if k is not object),
            message=str(exc),
            traceback=text,
            server=server,
            pid=os.getpid(),
            thread=threading.current_thread().name,
            exception=exc,
        )


def _user_frames(tb: Optional[TracebackType]) -> Optional[TracebackType]:
    # Skip the leading frames of the harness and of the server machinery (socketserver,
    # netserve): the report starts at the user's code, usually the handler's handle().
    first = tb
    while tb is not None:
        if not _is_machinery(tb.tb_frame.f_code.co_filename):
            return tb
        tb = tb.tb_next
    return first


def _is_machinery(filename: str) -> bool:
    path = os.path.normcase(os.path.abspath(filename))
    if path in (_HERE, os.path.normcase(os.path.abspath(socketserver.__file__))):
        return True
    netserve = sys.modules.get("netserve")
    package = getattr(netserve, "__file__", None)
    return package is not None and os.path.dirname(path) == os.path.dirname(
        os.path.normcase(os.path.abspath(package))
    )


_HERE = os.path.normcase(os.path.abspath(__file__))


@dataclass
class RequestRecord:
    """One request a server processed.

    Attributes:
        client_address: The client's address.
        started: ``time.monotonic()`` when the server began processing it.
        ended: ``time.monotonic()`` when processing ended.
        error: The :class:`HandlerError` it raised, or ``None``.
        pid: The process that processed it.
        thread: The name of the thread that processed it.
    """

    client_address: Any
    started: float
    ended: float
    error: Optional[HandlerError]
    pid: int
    thread: str

    @property
    def duration(self) -> float:
        """Seconds the request took."""
        return self.ended - self.started


class HandlerErrors(Sequence[HandlerError]):
    """The handler errors of a server so far: a sequence with helpers to assert on them.

    Every error not marked handled fails the test at teardown, so a test that
    provokes an error on purpose marks it with :meth:`expect`.

    Example:
        >>> server.wait_for_requests(1)  # doctest: +SKIP
        >>> server.errors.expect(ValueError, match="bad input")  # doctest: +SKIP
    """

    def __init__(self, items: List[HandlerError]) -> None:
        self._items = items

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[HandlerError]:
        return iter(self._items)

    def unhandled(self) -> List[HandlerError]:
        """The errors no test marked handled."""
        return [error for error in self._items if not error.handled]

    def expect(
        self,
        exc_type: Union[Type[BaseException], Tuple[Type[BaseException], ...]] = Exception,
        match: str = "",
    ) -> HandlerError:
        """Mark handled, and return, the first unhandled error of ``exc_type`` matching ``match``.

        Raises:
            AssertionError: No such error was recorded.
        """
        for error in self._items:
            if not error.handled and error.matches(exc_type, match):
                error.mark_handled()
                return error
        names = getattr(exc_type, "__name__", repr(exc_type))
        seen = "; ".join(f"{e.type_name}: {e.message}" for e in self._items) or "none"
        raise AssertionError(f"no unhandled handler error {names} matching {match!r}; seen: {seen}")

    def mark_handled(self) -> None:
        """Mark every error recorded so far handled."""
        for error in self._items:
            error.mark_handled()

    def __repr__(self) -> str:
        return f"HandlerErrors({self._items!r})"


# -- the recorder shared by the instrumented server and the handle ----------------------------


class _Recorder:
    # Collects request records and errors. In the test process they are appended
    # under the condition; a forked child pickles them into `channel` (a datagram
    # socketpair made before serving), which the test process drains.

    def __init__(self, description: str, forking: bool) -> None:
        self.description = description
        self.parent_pid = os.getpid()
        self.cond = threading.Condition()
        self.requests: List[RequestRecord] = []
        self.errors: List[HandlerError] = []
        self.handler_threads: Set[threading.Thread] = set()
        self.in_flight: Dict[threading.Thread, Any] = {}
        self.child_pids: Set[int] = set()
        self.local = threading.local()
        self.channel: Optional[Tuple[socket.socket, socket.socket]] = None
        if forking:
            self.channel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.channel[0].setblocking(False)

    def publish(self, item: Union[RequestRecord, HandlerError]) -> None:
        if os.getpid() != self.parent_pid:
            assert self.channel is not None
            error = item.error if isinstance(item, RequestRecord) else item
            if error is not None and error.exception is not None:
                try:  # the test process must be able to rebuild it, or it gets the text only
                    pickle.loads(pickle.dumps(error.exception))
                except Exception:  # noqa: BLE001 - any failure to rebuild means text only
                    error.exception = None
            self.channel[1].send(pickle.dumps(item))
            return
        self._store(item)
        if self.channel is not None:
            self.channel[1].send(_WAKE)  # wakes a waiter selecting on the channel

    def _store(self, item: Union[RequestRecord, HandlerError]) -> None:
        with self.cond:
            if isinstance(item, RequestRecord):
                self.requests.append(item)
                if item.error is not None:
                    self.errors.append(item.error)
                if item.pid != self.parent_pid:
                    self.child_pids.add(item.pid)
            else:
                self.errors.append(item)
            self.cond.notify_all()

    def drain(self) -> None:
        if self.channel is None:
            return
        while True:
            try:
                data = self.channel[0].recv(1 << 20)
            except BlockingIOError:
                return
            if data != _WAKE:
                self._store(pickle.loads(data))

    def wait(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self.drain()
            with self.cond:
                if len(self.requests) >= count:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if self.channel is None:
                    self.cond.wait(remaining)
                    continue
            select.select([self.channel[0]], [], [], remaining)

    def close(self) -> None:
        if self.channel is not None:
            self.drain()
            for end in self.channel:
                end.close()


class _Instrumented:
    # Mixed in front of the user's server class. finish_request() records each
    # request and the exception it raised; handle_error() records errors raised
    # elsewhere and silences the stock handle_error (the test reports them).
    _netserve_recorder: Optional[_Recorder] = None
    _netserve_custom_handle_error = False

    def finish_request(self, request: Any, client_address: Any) -> None:
        recorder = self._netserve_recorder
        if recorder is None:
            super().finish_request(request, client_address)  # type: ignore[misc]
            return
        thread = threading.current_thread()
        in_parent = os.getpid() == recorder.parent_pid
        if in_parent:
            with recorder.cond:
                recorder.handler_threads.add(thread)
                recorder.in_flight[thread] = client_address
        started = time.monotonic()
        error = None
        try:
            super().finish_request(request, client_address)  # type: ignore[misc]
        except BaseException as exc:
            error = HandlerError.capture(exc, client_address, recorder.description)
            recorder.local.recorded = exc
            raise
        finally:
            record = RequestRecord(
                client_address, started, time.monotonic(), error, os.getpid(), thread.name
            )
            if in_parent:
                with recorder.cond:
                    recorder.in_flight.pop(thread, None)
            recorder.publish(record)

    def handle_error(self, request: Any, client_address: Any) -> None:
        recorder = self._netserve_recorder
        exc = sys.exc_info()[1]
        if recorder is not None and exc is not None:
            if getattr(recorder.local, "recorded", None) is not exc:
                recorder.publish(HandlerError.capture(exc, client_address, recorder.description))
            recorder.local.recorded = None
        if recorder is None or self._netserve_custom_handle_error:
            super().handle_error(request, client_address)  # type: ignore[misc]


def _stock_handle_error(cls: type) -> bool:
    for klass in cls.__mro__:
        if "handle_error" in vars(klass):
            module = klass.__module__
            return module == "socketserver" or (
                module.startswith("netserve") and not module.startswith("netserve_testing")
            )
    return True


def _is_netserve_class(cls: type) -> bool:
    netserve = sys.modules.get("netserve")
    base = getattr(netserve, "BaseServer", None)
    return isinstance(base, type) and base is not socketserver.BaseServer and issubclass(cls, base)


def _short_tmp() -> str:
    # /tmp keeps unix socket paths far below the 107-byte limit; TMPDIR may be long.
    return "/tmp" if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK) else tempfile.gettempdir()


def private_socket_dir() -> str:
    """Create a private (0700) directory with a short path for Unix sockets; return its path.

    The name holds the pytest-xdist worker id, so workers never share one.

    Example:
        >>> import os
        >>> path = private_socket_dir()
        >>> oct(os.stat(path).st_mode & 0o777)
        '0o700'
        >>> os.rmdir(path)
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return tempfile.mkdtemp(prefix=f"ns-{worker}-" if worker else "ns-", dir=_short_tmp())


def _check_unix_path(path: str) -> str:
    size = len(os.fsencode(path))
    if size > _UNIX_PATH_LIMIT:
        raise ValueError(f"unix socket path is {size} bytes, the limit is 107: {path!r}")
    return path


# -- one server --------------------------------------------------------------------------------


class ServerHandle:
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
        **options: Server class attributes, such as ``daemon_threads``,
            ``block_on_close``, ``timeout``, ``max_children``, ``request_queue_size``.

    Raises:
        TypeError: An option is not an attribute of the server class.

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
        **options: Any,
    ) -> None:
        self.kind: Optional[ServerKind] = None
        if server_class is None:
            self.kind = ServerKind.parse(kind)
            server_class = self.kind.server_class(backend)
        self.server_class = server_class
        self.client_timeout = client_timeout
        self.teardown_timeout = teardown_timeout
        self._clients: List[Client] = []
        self._closed = False
        self._own_dir: Optional[str] = None
        self._socket_file: Optional[str] = None
        self._serve_error: Optional[HandlerError] = None
        self._leaks: List[str] = []
        namespace = self._namespace(server_class, options)
        address = self._address(server_class, address, socket_dir)
        family = _family_of_address(address, server_class)
        if getattr(server_class, "address_family", family) != family:
            namespace["address_family"] = family
        instrumented = type(server_class.__name__, (_Instrumented, server_class), namespace)
        instrumented.__qualname__ = server_class.__qualname__
        instrumented.__module__ = server_class.__module__
        forking = hasattr(server_class, "collect_children")
        try:
            self.server = instrumented(address, handler_class)
        except BaseException:
            self._remove_dir()
            raise
        for name, value in (attrs or {}).items():
            setattr(self.server, name, value)
        if isinstance(self.server.server_address, str):
            self._socket_file = self.server.server_address
        self._recorder = _Recorder(f"{server_class.__name__} at {self.address!r}", forking)
        self.server._netserve_recorder = self._recorder
        if poll_interval is None:
            poll_interval = 0.5 if _is_netserve_class(server_class) else STDLIB_POLL_INTERVAL
        self._thread = threading.Thread(
            target=self._serve,
            args=(poll_interval,),
            name=f"netserve {server_class.__name__} {self.address!r}",
            daemon=True,
        )
        self._thread.start()

    @staticmethod
    def _namespace(server_class: type, options: Mapping[str, Any]) -> Dict[str, Any]:
        for name in options:
            if not hasattr(server_class, name) or name.startswith("_"):
                raise TypeError(f"unknown server option {name!r} for {server_class.__name__}")
        namespace = dict(options)
        namespace["_netserve_custom_handle_error"] = not _stock_handle_error(server_class)
        return namespace

    def _address(self, server_class: type, address: Any, socket_dir: Optional[str]) -> Any:
        if address is not None:
            if isinstance(address, str):
                _check_unix_path(address)
            return address
        family = getattr(server_class, "address_family", socket.AF_INET)
        if self.kind is not None:
            family = self.kind.family
        if family == socket.AF_UNIX:
            if socket_dir is None:
                socket_dir = self._own_dir = private_socket_dir()
            return _check_unix_path(os.path.join(socket_dir, f"s{next(_SERIAL)}.sock"))
        return ("::1", 0) if family == socket.AF_INET6 else ("127.0.0.1", 0)

    def _serve(self, poll_interval: float) -> None:
        try:
            self.server.serve_forever(poll_interval)
        except BaseException as exc:  # noqa: BLE001 - recorded, reported at teardown  # noqa: BLE001 - recorded, reported at teardown
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

    def connect(self, timeout: Optional[float] = None) -> Client:
        """Return a scripted client connected to the server (closed when the server is).

        Args:
            timeout: Seconds to wait for any one expectation; default: the handle's
                ``client_timeout`` (5 s unless set).

        Example:
            >>> server.connect().send_line("hi").expect_line("HI")  # doctest: +SKIP
        """
        if self._closed:
            raise ValueError(f"connect(): the server {self._recorder.description} is closed")
        timeout = self.client_timeout if timeout is None else timeout
        address = self.address
        client: Client
        if isinstance(address, tuple):
            client = TCPClient(address, timeout) if self.is_stream else UDPClient(address, timeout)
        elif self.is_stream:
            client = UnixStreamClient(address, timeout)
        else:
            client = UnixDatagramClient(address, timeout)
        self._clients.append(client)
        return client

    @property
    def errors(self) -> HandlerErrors:
        """Handler errors so far (from threads and forked children alike)."""
        self._recorder.drain()
        with self._recorder.cond:
            return HandlerErrors(list(self._recorder.errors))

    @property
    def requests(self) -> List[RequestRecord]:
        """Requests processed so far, in the order they ended."""
        self._recorder.drain()
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
        limit = timeout if timeout is not None else (self.client_timeout or 5.0)
        if not self._recorder.wait(count, limit):
            done = len(self.requests)
            raise RequestsTimeout(
                f"waited {limit:g} s for {count} requests to {self._recorder.description}, "
                f"{done} ended"
            )
        return self.requests

    # -- teardown -----------------------------------------------------------------------------

    def close(self) -> Tuple[List[HandlerError], List[str]]:
        """Stop the server completely; return its unhandled errors and what it leaked.

        Closes the clients from :meth:`connect`, shuts the server down, joins the
        serving thread, waits (up to ``teardown_timeout``) for handler threads and
        forked children, calls ``server_close()``, kills and reaps children still
        running, and removes the socket file. Safe to call twice (the second call
        returns nothing).

        Returns:
            ``(errors, leaks)``: unhandled, unreported :class:`HandlerError` records,
            and one line per thread or child process still running.
        """
        if self._closed:
            return [], []
        self._closed = True
        for client in self._clients:
            client.disconnect()
        deadline = time.monotonic() + self.teardown_timeout
        if self._thread.is_alive():
            _request_shutdown(self.server)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._leaks.append(f"serving thread still running: {self._thread!r}")
        self._wait_handlers(deadline)
        self._wait_children(deadline)
        self.server.server_close()
        self._join_handler_threads(deadline)
        self._reap_children()
        self._recorder.close()
        if self._socket_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._socket_file)
        self._remove_dir()
        errors = [e for e in self._recorder.errors if not e.handled and not e.reported]
        for error in errors:
            error.reported = True
        return errors, list(self._leaks)

    def take_unhandled_errors(self) -> List[HandlerError]:
        """Return the unhandled errors not reported yet, and mark them reported."""
        self._recorder.drain()
        with self._recorder.cond:
            errors = [e for e in self._recorder.errors if not e.handled and not e.reported]
            for error in errors:
                error.reported = True
        return errors

    def _wait_handlers(self, deadline: float) -> None:
        # Requests still being processed in this process get until the deadline.
        recorder = self._recorder
        with recorder.cond:
            while recorder.in_flight and recorder.cond.wait(max(0.0, deadline - time.monotonic())):
                pass
            stuck = dict(recorder.in_flight)
        for thread, client_address in stuck.items():
            self._leaks.append(
                f"request from {client_address!r} still being handled in {thread!r} "
                f"{self.teardown_timeout:g} s after shutdown of {recorder.description}"
            )
        if stuck:
            self.server.block_on_close = False  # server_close() must not wait forever

    def _join_handler_threads(self, deadline: float) -> None:
        with self._recorder.cond:
            threads = [t for t in self._recorder.handler_threads if t is not self._thread]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
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
        pidfd_open: Optional[Callable[[int], int]] = getattr(os, "pidfd_open", None)
        watched: Dict[int, int] = {}
        try:
            for pid in pids:
                if pidfd_open is None:
                    break
                try:
                    watched[pidfd_open(pid)] = pid
                except (ProcessLookupError, OSError):
                    continue
            channel: List[Any] = [self._recorder.channel[0]] if self._recorder.channel else []
            while watched:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                ready, _, _ = select.select(list(watched) + channel, [], [], remaining)
                self._recorder.drain()  # a child may be blocked sending its record
                for fd in ready:
                    if fd in watched:
                        os.close(fd)
                        del watched[fd]
            for pid in watched.values():
                self._leaks.append(
                    f"child process {pid} still running {self.teardown_timeout:g} s after "
                    f"shutdown of {self._recorder.description} (killed)"
                )
                _kill(pid)
                os.waitpid(pid, 0)
            if watched:
                self.server.block_on_close = False
        finally:
            for fd in watched:
                os.close(fd)

    def _reap_children(self) -> None:
        for pid in self._children():
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done == 0:
                self._leaks.append(f"child process {pid} left running by server_close() (killed)")
                _kill(pid)
                os.waitpid(pid, 0)

    def _remove_dir(self) -> None:
        if self._own_dir is None:
            return
        directory, self._own_dir = self._own_dir, None
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            self._leaks.append(f"socket file left behind: {path}")
            os.unlink(path)
        os.rmdir(directory)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        errors, leaks = self.close()
        if (errors or leaks) and exc_info[0] is None:
            raise ServerCheckFailed(errors, leaks)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"<ServerHandle {self._recorder.description} ({state})>"


def _request_shutdown(server: Any) -> None:
    # Ask serve_forever() to stop without waiting: the caller joins the serving thread
    # with a deadline, which a stdlib shutdown() (it waits without one) cannot give.
    if hasattr(server, "request_shutdown"):
        server.request_shutdown()
    elif hasattr(server, "_BaseServer__shutdown_request"):
        server._BaseServer__shutdown_request = True
    else:
        server.shutdown()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _family_of_address(address: Any, server_class: type) -> int:
    if isinstance(address, (str, bytes, os.PathLike)):
        return socket.AF_UNIX
    if isinstance(address, tuple) and ":" in str(address[0]):
        return socket.AF_INET6
    if isinstance(address, tuple):
        family = getattr(server_class, "address_family", socket.AF_INET)
        return socket.AF_INET if family == socket.AF_UNIX else int(family)
    raise TypeError(f"a server address is a (host, port) tuple or a unix path, not {address!r}")


class _Serial:
    # A process-wide counter for socket file names (itertools.count is not typed as an iterator).
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def __next__(self) -> int:
        with self._lock:
            self._value += 1
            return self._value


_SERIAL = _Serial()


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


# -- several servers, with leak checks ----------------------------------------------------------


def _open_sockets() -> Dict[int, str]:
    # fd -> link target for sockets and pipes (Linux /proc, BSD/macOS /dev/fd).
    for base in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        found = {}
        for name in names:
            try:
                target = os.readlink(os.path.join(base, name))
            except OSError:
                continue
            if target.startswith(("socket:", "pipe:")):
                found[int(name)] = target
        return found
    return {}


class ServerFactory:
    """Starts servers and stops them all, then checks nothing leaked.

    The ``netserve`` pytest fixture is one of these; it works without pytest too.

    Args:
        client_timeout: Default timeout of scripted clients (5 s unless set).
        teardown_timeout: Seconds to wait for handler threads and children at close.
        check_leaks: Whether :meth:`close` checks for leaked threads and sockets.
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
        self._threads: Optional[Set[threading.Thread]] = None
        self._sockets: Dict[int, str] = {}
        self._closed = False

    def serve(
        self, handler_class: type, kind: Union[str, ServerKind] = "tcp-threading", **options: Any
    ) -> ServerHandle:
        """Start a server for ``handler_class``; see :class:`ServerHandle` for the options.

        Example:
            >>> server = factory.serve(Echo, "udp-forking", max_children=4)  # doctest: +SKIP
        """
        if self._closed:
            raise ValueError("serve(): this server factory is closed")
        if self._threads is None and self.check_leaks:
            self._threads = set(threading.enumerate())
            self._sockets = _open_sockets()
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
        """Return the unhandled handler errors of every server not reported yet."""
        return [error for server in self.servers for error in server.take_unhandled_errors()]

    def close(self) -> Tuple[List[HandlerError], List[str]]:
        """Stop every server (last started first); return unhandled errors and leaks."""
        if self._closed:
            return [], []
        self._closed = True
        errors: List[HandlerError] = []
        leaks: List[str] = []
        for server in reversed(self.servers):
            server_errors, server_leaks = server.close()
            errors.extend(server_errors)
            leaks.extend(server_leaks)
        if self._socket_dir is not None:
            for name in sorted(os.listdir(self._socket_dir)):
                path = os.path.join(self._socket_dir, name)
                leaks.append(f"socket file left behind: {path}")
                os.unlink(path)
            os.rmdir(self._socket_dir)
        if self._threads is not None:
            for thread in threading.enumerate():
                if thread not in self._threads:
                    leaks.append(f"thread left running: {thread!r}")
            sockets = _open_sockets()
            for fd, target in sorted(sockets.items()):
                if self._sockets.get(fd) != target:
                    leaks.append(f"{target.split(':')[0]} left open: fd {fd} ({target})")
        return errors, leaks

    def __enter__(self) -> ServerFactory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        errors, leaks = self.close()
        if (errors or leaks) and exc_info[0] is None:
            raise ServerCheckFailed(errors, leaks)
