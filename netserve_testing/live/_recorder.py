"""Recording a server's requests and handler errors, in threads and in forked children alike.

:func:`instrument` derives a class from the user's server class with
:class:`_Instrumented` in front: it records each request and each exception in
a :class:`Recorder`. In the test process records are stored under a condition
(so a test waits on it, never sleeps); a forked child pickles its records to
the test process over a datagram socket pair made before serving, where a
reader thread stores them as they come (so no child ever waits for the test to
read, however many requests it makes), until :meth:`Recorder.close`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, Union

from netserve._coverage import save_child_coverage

from ._forked import (
    describe_exit,
    install_stack_dump,
    isolate_child,
    leave_ctrl_c_to_main_thread,
    take_ctrl_c,
)
from ._leaks import LeakCheck, wait_for_any_child
from ._records import ChildProcessDied, HandlerError, RequestRecord

__all__ = ["DEFAULT_POOL_SIZE", "MIN_LISTEN_BACKLOG", "Recorder", "instrument", "name_key"]

#: Workers of a thread pool kind unless the test sets ``max_workers`` (not the machine's cores).
DEFAULT_POOL_SIZE = 8
#: The least listen backlog of a stream server unless the test sets ``request_queue_size``.
MIN_LISTEN_BACKLOG = 128


@dataclass
class _StackDump:
    # A forked child's stack, sent when the test process asks a stuck child for it.
    pid: int
    text: str


@dataclass
class _ChildExit:
    # The test process reaped a child with this wait status; sent through the channel
    # behind the child's own records, so the reader knows whether the child reported.
    pid: int
    status: int


_Item = Union[RequestRecord, HandlerError, _StackDump, _ChildExit]
# Errors a handler gets when its peer is gone: after teardown began, teardown closed it.
_PEER_GONE = ("ConnectionResetError", "BrokenPipeError", "ConnectionAbortedError")

# A record goes over the channel in datagrams of at most _CHUNK bytes of pickle (a
# datagram is limited to about the socket's send buffer), each behind a header:
# sender pid, sender thread id, whether more chunks follow. Datagrams from one
# sender arrive in order, so the reader joins chunks per sender.
_HEADER = struct.Struct("!iQ?")
_CHUNK = 32 * 1024
# What the test process sends the reader, shorter than a header so never a chunk:
# _STOP after the last child record (close()), _SYNC and a number to learn when every
# record sent before it is stored (sync()).
_STOP = b"stop"
_SYNC = b"sync"
_SYNC_NUMBER = struct.Struct("!Q")
# Seconds close() waits for the reader thread to store what is left in the channel.
_READER_JOIN_TIMEOUT = 5.0


class Recorder:
    # Collects request records and errors of one server. Invariants, in the test process:
    # `pending` counts requests process_request() accepted whose finish_request() has not
    # ended (not counted for forking servers: their children report through `channel`);
    # `in_flight` maps each thread inside finish_request() to its client address.

    def __init__(self, description: str, forking: bool) -> None:
        self.description = description
        self.parent_pid = os.getpid()
        self.forking = forking
        self.cond = threading.Condition()
        self.requests: List[RequestRecord] = []
        self.errors: List[HandlerError] = []
        self.handler_threads: Set[threading.Thread] = set()
        self.in_flight: Dict[threading.Thread, Any] = {}
        self.pending = 0
        self.child_pids: Set[int] = set()
        self.local = threading.local()
        self.channel: Optional[Tuple[socket.socket, socket.socket]] = None
        #: Stores what forked children send, from start() until close().
        self.reader: Optional[threading.Thread] = None
        self._syncs_sent = 0  # _SYNC markers sent; the reader counts those it read
        #: ``{fd_target(): what it is}`` of the sockets and pipes the server owns.
        self.owned: Dict[str, str] = {}
        self._syncs_read = 0
        #: Forked children: the client each serves, the stack each sent when asked, and
        #: those that reported a request (their exit status then says nothing new).
        self.child_clients: Dict[int, Any] = {}
        self.stacks: Dict[int, str] = {}
        self.reported_pids: Set[int] = set()
        #: ``time.monotonic()`` when teardown began closing the test's clients; and the
        #: connections the kit itself ended (teardown, or a kit client's ``with`` block),
        #: by address as ``name_key()`` gives it, each with the time the kit ended it.
        self.teardown_started: Optional[float] = None
        self.kit_closed: Dict[Any, float] = {}
        if forking:
            self.channel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.reader = threading.Thread(
                target=self._read,
                args=(self.channel[0],),
                name=f"netserve records of {description}",
                daemon=True,
            )

    def start(self) -> None:
        # Starts the reader before any child can fork (and so send).
        if self.reader is not None:
            self.reader.start()

    @property
    def in_parent(self) -> bool:
        return os.getpid() == self.parent_pid

    def publish(self, item: _Item) -> None:
        if self.in_parent:
            self._store(item)
            return
        assert self.channel is not None
        # The reading end is the test process's: without it here, a child whose test
        # process died gets an error instead of waiting forever for a reader.
        self.channel[0].close()
        error = item.error if isinstance(item, RequestRecord) else item
        if isinstance(error, HandlerError) and error.exception is not None:
            try:  # the test process must be able to rebuild it, or it gets the text only
                pickle.loads(pickle.dumps(error.exception))
            except Exception:  # noqa: BLE001 - any failure to rebuild means text only
                error.exception = None
        data = pickle.dumps(item)
        sender = (os.getpid(), threading.get_ident())
        for start in range(0, len(data), _CHUNK):
            more = start + _CHUNK < len(data)
            self.channel[1].send(_HEADER.pack(*sender, more) + data[start : start + _CHUNK])

    def own(self, fd: int, what: str) -> None:
        # Notes that the server owns the socket or pipe `fd` (and any duplicate of it).
        target = LeakCheck.fd_target(fd)
        if target is not None:
            with self.cond:
                self.owned.setdefault(target, what)

    def _store(self, item: _Item) -> None:
        with self.cond:
            if isinstance(item, _StackDump):
                self.stacks[item.pid] = item.text
            elif isinstance(item, _ChildExit):
                self._child_ended(item.pid, item.status)
            elif isinstance(item, RequestRecord):
                self.requests.append(item)
                if item.error is not None:
                    self.errors.append(item.error)
                if item.pid != self.parent_pid:
                    self.child_pids.add(item.pid)
                    self.reported_pids.add(item.pid)
            elif not self._known(item):
                self.errors.append(item)
            self.cond.notify_all()

    def _known(self, error: HandlerError) -> bool:
        # Under self.cond: whether `error` is an exception already recorded, as a sync
        # server's handler error that went on to end serve_forever() is: the record of
        # the request tells it, and one expect() claims it.
        exc = error.exception
        return exc is not None and any(known.exception is exc for known in self.errors)

    def _child_ended(self, pid: int, status: int) -> None:
        # Under self.cond: a child that ended without reporting its request (whatever its
        # status: os._exit(0) mid-request too) gets an error record, so the test fails
        # unless it expects ChildProcessDied, and wait_for_requests() counts it. A child
        # that ends normally reports its request before it exits, so before this.
        if pid in self.reported_pids:
            return
        self.reported_pids.add(pid)
        client = self.child_clients.get(pid)
        now = time.monotonic()
        how = describe_exit(status)
        exc = ChildProcessDied(
            f"child process {pid} {how} while handling the request from {client!r}, "
            "without reporting it",
            pid,
            os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        )
        error = HandlerError(
            client_address=client,
            type_names=("ChildProcessDied", "NetserveTestingError", "Exception"),
            message=str(exc),
            traceback=f"ChildProcessDied: {exc}\n",
            server=self.description,
            pid=pid,
            thread="",
            exception=exc,
            raised_at=now,
        )
        self.errors.append(error)
        self.requests.append(RequestRecord(client, now, now, error, pid, ""))

    def child_exited(self, pid: int, status: int) -> None:
        # The test process reaped child `pid` with wait status `status`.
        if pid not in self.child_clients:
            return  # not a child of this server's requests
        reader, channel = self.reader, self.channel
        if reader is None or channel is None or not reader.is_alive():
            self._store(_ChildExit(pid, status))
            return
        data = pickle.dumps(_ChildExit(pid, status))
        try:
            channel[1].send(_HEADER.pack(os.getpid(), threading.get_ident(), False) + data)
        except OSError:
            self._store(_ChildExit(pid, status))

    def ask_stacks(self, pids: Set[int], signum: int, grace: float) -> Dict[int, str]:
        # Asks stuck children for their stacks (signal `signum`), waits up to `grace`
        # seconds for the answers, and returns those that came.
        asked = set()
        for pid in pids:
            try:
                os.kill(pid, signum)
            except OSError:
                continue
            asked.add(pid)
        if not asked:
            return {}
        limit = time.monotonic() + grace
        with self.cond:
            self.cond.wait_for(
                lambda: asked <= set(self.stacks), max(0.0, limit - time.monotonic())
            )
        self.sync()  # a stack sent just now is read before the child is killed
        with self.cond:
            return {pid: self.stacks[pid] for pid in asked if pid in self.stacks}

    def kit_caused(self, error: HandlerError) -> bool:
        # Whether the kit's own closing of a client explains `error`: the handler of that
        # client's connection found its peer gone after the kit ended the connection.
        closed_at = self.kit_closed.get(name_key(error.client_address))
        return (
            closed_at is not None
            and error.raised_at >= closed_at
            and any(name in _PEER_GONE for name in error.type_names)
        )

    def _read(self, channel: socket.socket) -> None:
        # The reader thread: blocks on the channel, stores each whole record, ends on _STOP.
        leave_ctrl_c_to_main_thread()
        parts: Dict[Tuple[int, int], List[bytes]] = {}
        limit = max(_CHUNK + _HEADER.size, 1 << 16)
        while True:
            data = channel.recv(limit)
            if data == _STOP:
                return
            if data.startswith(_SYNC) and len(data) < _HEADER.size:
                with self.cond:
                    (self._syncs_read,) = _SYNC_NUMBER.unpack_from(data, len(_SYNC))
                    self.cond.notify_all()
                continue
            pid, ident, more = _HEADER.unpack_from(data)
            chunks = parts.setdefault((pid, ident), [])
            chunks.append(data[_HEADER.size :])
            if more:
                continue
            del parts[(pid, ident)]
            try:
                item = pickle.loads(b"".join(chunks))
            except Exception as exc:  # noqa: BLE001 - reported as the child's error
                item = HandlerError.capture(
                    exc, None, f"a record from child {pid} of {self.description}"
                )
            self._store(item)

    def sync(self) -> None:
        # Returns once every record a child sent before the call is stored: a marker
        # goes through the channel behind them (datagrams keep their order).
        channel, reader = self.channel, self.reader
        if channel is None or reader is None or not reader.is_alive() or not self.in_parent:
            return
        with self.cond:
            self._syncs_sent += 1
            number = self._syncs_sent
        channel[1].send(_SYNC + _SYNC_NUMBER.pack(number))
        with self.cond:
            self.cond.wait_for(
                lambda: self._syncs_read >= number or not reader.is_alive(),
                _READER_JOIN_TIMEOUT,
            )

    def wait(self, count: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.requests) >= count, timeout)

    def wait_idle(self, deadline: float) -> bool:
        # Waits until every accepted request has left finish_request(); False on the deadline.
        with self.cond:
            while self.pending > 0 and self.cond.wait(max(0.0, deadline - time.monotonic())):
                pass
            return self.pending <= 0

    def take_unhandled(self) -> List[HandlerError]:
        self.sync()
        with self.cond:
            errors = [e for e in self.errors if not e.handled and not e.reported]
            for error in errors:
                error.reported = True
        return [error for error in errors if not self.kit_caused(error)]

    def close(self) -> Optional[threading.Thread]:
        # Stores every record already sent, then ends the reader and closes the channel;
        # records stay readable after. Call it once the children are gone: a record
        # sent after it is lost. Returns the reader if it did not end (channel left open).
        if self.channel is None:
            return None
        channel = self.channel
        reader = self.reader
        if reader is not None and reader.is_alive():
            # Blocks only while the channel is full, which the reader empties. (The
            # children, which share this end's blocking mode, are gone by now.)
            channel[1].settimeout(_READER_JOIN_TIMEOUT)
            try:
                channel[1].send(_STOP)
            except OSError:
                return reader
            reader.join(_READER_JOIN_TIMEOUT)
            if reader.is_alive():
                return reader
        self.channel = None
        for end in channel:
            end.close()
        return None


class _Instrumented:
    # Mixed in front of the user's server class. process_request() counts accepted
    # requests, finish_request() records each request and the exception it raised;
    # handle_error() records errors raised elsewhere and silences the stock
    # handle_error (the test reports them).
    _netserve_recorder: Optional[Recorder] = None
    _netserve_custom_handle_error = False

    def process_request(self, request: Any, client_address: Any) -> None:
        recorder = self._netserve_recorder
        if recorder is not None and isinstance(request, socket.socket):
            recorder.own(
                request.fileno(), f"a connection from {client_address!r} to {recorder.description}"
            )
        if recorder is not None and recorder.forking:
            before = set(getattr(self, "active_children", None) or ())
            super().process_request(request, client_address)  # type: ignore[misc]
            forked = set(getattr(self, "active_children", None) or ()) - before
            with recorder.cond:
                for pid in forked:  # (only in the parent: a child never returns here)
                    recorder.child_clients[pid] = client_address
            return
        if recorder is None:
            super().process_request(request, client_address)  # type: ignore[misc]
            return
        with recorder.cond:
            recorder.pending += 1
        recorder.local.taken = False  # finish_request() in this thread sets it (sync servers)
        try:
            super().process_request(request, client_address)  # type: ignore[misc]
        except BaseException:
            if not recorder.local.taken:  # no finish_request() took the request to end it
                with recorder.cond:
                    recorder.pending -= 1
                    recorder.cond.notify_all()
            raise

    def finish_request(self, request: Any, client_address: Any) -> None:
        recorder = self._netserve_recorder
        if recorder is None:
            super().finish_request(request, client_address)  # type: ignore[misc]
            return
        thread = threading.current_thread()
        in_parent = recorder.in_parent
        recorder.local.taken = True
        if in_parent:
            with recorder.cond:
                recorder.handler_threads.add(thread)
                recorder.in_flight[thread] = client_address
        else:
            _prepare_child(recorder, request)
        started = time.monotonic()
        error = None
        try:
            if not in_parent:
                take_ctrl_c()  # in the try: a Ctrl-C from here on ends in the record
            super().finish_request(request, client_address)  # type: ignore[misc]
        except BaseException as exc:
            if not in_parent and isinstance(exc, KeyboardInterrupt):
                # Ctrl-C reached the child with the test process: no handler's error.
                raise
            error = HandlerError.capture(exc, client_address, recorder.description)
            recorder.local.recorded = exc
            raise
        finally:
            if not in_parent:
                leave_ctrl_c_to_main_thread()  # nothing interrupts the record's sending
            record = RequestRecord(
                client_address, started, time.monotonic(), error, os.getpid(), thread.name
            )
            if in_parent:
                with recorder.cond:
                    recorder.in_flight.pop(thread, None)
                    if not recorder.forking:
                        recorder.pending -= 1
                        recorder.cond.notify_all()
            recorder.publish(record)

    def shutdown_request(self, request: Any) -> None:
        # A forked child's last step before os._exit() (the stdlib's ForkingMixIn too):
        # save its coverage data, which os._exit() would lose.
        try:
            super().shutdown_request(request)  # type: ignore[misc]
        finally:
            recorder = self._netserve_recorder
            if recorder is not None and recorder.forking and not recorder.in_parent:
                save_child_coverage()

    def handle_error(self, request: Any, client_address: Any) -> None:
        recorder = self._netserve_recorder
        exc = sys.exc_info()[1]
        if recorder is not None and exc is not None:
            if getattr(recorder.local, "recorded", None) is not exc:
                recorder.publish(HandlerError.capture(exc, client_address, recorder.description))
            recorder.local.recorded = None
        if recorder is None or self._netserve_custom_handle_error:
            super().handle_error(request, client_address)  # type: ignore[misc]


class _InstrumentedForking(_Instrumented):
    # For forking servers: reaping keeps each child's exit status.

    def collect_children(self, *args: Any, **kwargs: Any) -> None:
        # Reaps this server's exited children first, keeping their exit statuses (a child
        # killed by a signal is a handler error), and waits for one of them, never for
        # another process's child, while max_children are running.
        recorder = self._netserve_recorder
        children: Optional[Set[int]] = getattr(self, "active_children", None)
        if recorder is not None and children:
            _reap_into(recorder, children)
            limit = getattr(self, "max_children", None)
            while isinstance(limit, int) and children and len(children) >= limit:
                wait_for_any_child(children)
                _reap_into(recorder, children)
        super().collect_children(*args, **kwargs)  # type: ignore[misc]


def name_key(address: Any) -> Any:
    """An address as a dictionary key: ``(host, port)`` for inet, the name for Unix sockets."""
    if isinstance(address, tuple) and len(address) >= 2:
        return (str(address[0]), address[1])
    if isinstance(address, bytes):
        return os.fsdecode(address)
    return address


def _reap_into(recorder: Recorder, children: Set[int]) -> None:
    # Reaps those of `children` that exited, telling the recorder how each ended.
    for pid in list(children):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            children.discard(pid)
            continue
        if done:
            children.discard(pid)
            recorder.child_exited(pid, status)


def _prepare_child(recorder: Recorder, request: Any) -> None:
    # In a forked child, before the handler runs: drop inherited connections to the kit's
    # servers (so a test's close reaches their handlers as EOF) and answer a request for
    # this child's stack.
    keep = {request.fileno()} if isinstance(request, socket.socket) else set()
    with contextlib.suppress(Exception):  # best effort: never in the way of the handler
        isolate_child(keep)
    pid = os.getpid()
    install_stack_dump(lambda text: recorder.publish(_StackDump(pid, text)))


def _stock_handle_error(cls: type) -> bool:
    # Whether cls inherits handle_error from socketserver or netserve (it only prints or logs).
    for klass in cls.__mro__:
        if "handle_error" in vars(klass):
            module = klass.__module__
            return module == "socketserver" or (
                module.startswith("netserve") and not module.startswith("netserve_testing")
            )
    return True


def instrument(server_class: type, options: Mapping[str, Any]) -> type:
    """Return a subclass of ``server_class`` that records, with ``options`` as class attributes.

    Where neither ``options`` nor ``server_class`` set them, the subclass's handler
    threads are daemons, a pool has :data:`DEFAULT_POOL_SIZE` workers and a stream
    server listens with a backlog of at least :data:`MIN_LISTEN_BACKLOG`.

    The subclass keeps the name, qualified name and module of ``server_class``.

    Raises:
        TypeError: An option is not an attribute of ``server_class``.
    """
    for name in options:
        if not hasattr(server_class, name) or name.startswith("_"):
            raise TypeError(f"unknown server option {name!r} for {server_class.__name__}")
    namespace = _reproducible(server_class, options)
    namespace["_netserve_custom_handle_error"] = not _stock_handle_error(server_class)
    front = _InstrumentedForking if hasattr(server_class, "collect_children") else _Instrumented
    instrumented = type(server_class.__name__, (front, server_class), namespace)
    instrumented.__qualname__ = server_class.__qualname__
    instrumented.__module__ = server_class.__module__
    return instrumented


def _reproducible(server_class: type, options: Mapping[str, Any]) -> Dict[str, Any]:
    # The class attributes of a kit server: the test's options, plus defaults that do not
    # depend on the machine or let a stuck handler hold the interpreter at exit, where the
    # test and the server class leave the library's value.
    namespace = dict(options)
    defaults = {
        "daemon_threads": True,  # an abandoned handler thread must not be joined at exit
        "max_workers": DEFAULT_POOL_SIZE,  # not min(32, cores + 4)
    }
    for name, value in defaults.items():
        if name not in namespace and _library_default(server_class, name):
            namespace[name] = value
    backlog = getattr(server_class, "request_queue_size", None)
    if (
        "request_queue_size" not in namespace
        and isinstance(backlog, int)
        and backlog < MIN_LISTEN_BACKLOG
        and _library_default(server_class, "request_queue_size")
    ):
        namespace["request_queue_size"] = MIN_LISTEN_BACKLOG
    return namespace


def _library_default(cls: type, name: str) -> bool:
    # Whether cls has the attribute `name` from socketserver or netserve, not set its own.
    for klass in cls.__mro__:
        if name in vars(klass):
            module = klass.__module__
            return module == "socketserver" or (
                module.startswith("netserve") and not module.startswith("netserve_testing")
            )
    return False
