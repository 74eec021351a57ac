"""An in-process fault proxy: real connections through faults of the test's choosing.

:class:`FaultProxy` listens on an ephemeral loopback address (or a fresh Unix
path) and forwards every connection, or every UDP client's datagrams, to a
target address, through the faults of :mod:`._faults`. One thread serves all
its connections (a selector and a timer heap); with no fault, a chunk is
forwarded as soon as it is read.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import selectors
import socket
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union

from ._clients import DEFAULT_TIMEOUT, DatagramClient, StreamClient, _family_of, connect
from ._faults import Fault, Refuse
from ._leaks import private_socket_dir, remove_socket_dir
from ._proxy_links import DatagramLink, Link, StreamLink
from ._proxy_loop import Loop, tracked_accept, tracked_socket
from ._proxy_transcript import ConnectionTranscript

__all__ = ["FaultProxy"]

#: Seconds close() waits for the proxy's thread.
_STOP_TIMEOUT = 5.0
# Connections accepted (or datagrams read) per wake-up before the loop serves the others.
_BATCH = 64


class FaultProxy:
    """A proxy in front of ``address`` that puts faults on real connections.

    Listens on an ephemeral loopback address of the target's family (a fresh path
    in a private directory for a Unix target) and forwards each connection to
    ``address`` through ``faults``. Every connection (every client address on a
    datagram proxy) gets a :class:`ConnectionTranscript`: the bytes with their
    timestamps, and the fault events. Faults can be changed while connections are
    open; a fault counts its bytes and time from when it starts applying to a
    connection. Probabilities are drawn per connection from a generator seeded
    with ``seed`` and the connection's number, so the same seed gives the same run.

    Use it as a context manager, or close it: :meth:`close` stops its thread,
    closes every socket and removes its socket file. Datagram proxies take only
    the faults that make sense for datagrams (not :class:`Slice`,
    :class:`ResetPeer` or :class:`SlowClose`).

    Args:
        address: Where to forward: ``(host, port)`` or a Unix socket path.
        *faults: The faults to start with.
        seed: Seeds the probabilities and the jitter; default: a random seed,
            shown as :attr:`seed` and in every transcript.
        kind: ``"stream"`` (TCP or Unix stream) or ``"datagram"`` (UDP).
        listen: Where to listen instead of the default (a loopback address of the
            target's family, port 0, or a fresh Unix path).
        client_timeout: Default timeout of the clients from :meth:`connect`.

    Raises:
        ValueError: A fault does not apply to ``kind``, or the kind is unknown.

    Example:
        >>> import socketserver
        >>> from netserve_testing import Slice, serve
        >>> class Upper(socketserver.StreamRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(self.rfile.readline().upper())
        >>> with serve(Upper) as server, FaultProxy(server.address, Slice(2)) as proxy:
        ...     proxy.connect().send_line("hello").expect_line("HELLO")
        ...     [e.data for e in proxy.transcripts[0].events if e.kind == "data"][:3]
        'HELLO'
        [b'he', b'll', b'o\\n']
    """

    def __init__(
        self,
        address: Any,
        *faults: Fault,
        seed: Optional[int] = None,
        kind: str = "stream",
        listen: Any = None,
        client_timeout: Optional[float] = None,
    ) -> None:
        if kind not in ("stream", "datagram"):
            raise ValueError(f"FaultProxy kind must be 'stream' or 'datagram', not {kind!r}")
        self.kind = kind
        self._family = _family_of(address)
        if self._family == socket.AF_UNIX and kind == "datagram":
            raise ValueError(f"FaultProxy: unix datagram targets are not supported: {address!r}")
        #: Where the proxy forwards to.
        self.target: Any = os.fspath(address) if self._family == socket.AF_UNIX else address
        #: The seed of the probabilities and jitter (given, or drawn at random).
        self.seed: int = random.randrange(2**32) if seed is None else seed
        self.client_timeout = DEFAULT_TIMEOUT if client_timeout is None else client_timeout
        self._faults: Tuple[Fault, ...] = self._checked(faults)
        self._faults_lock = threading.Lock()
        self._links: Set[Link] = set()
        # Stream links' own addresses towards the server (the handlers' client_address),
        # by link number, while open; read by other threads under _cond.
        self._upstreams: Dict[int, Any] = {}
        self._datagram_links: Dict[Any, DatagramLink] = {}
        self._numbers = itertools.count(1)
        self._transcripts: List[ConnectionTranscript] = []
        self._cond = threading.Condition(threading.Lock())
        self._clients: List[Union[StreamClient, DatagramClient]] = []
        self._closed = False
        self._own_dir: Optional[str] = None
        self._socket_file: Optional[str] = None
        self._listener: Optional[socket.socket] = None
        self._loop = Loop(f"netserve FaultProxy to {self.target!r}")
        try:
            self._listener = self._listen(listen)
        except BaseException:
            self._loop.stop(0)
            self._remove_dir()
            raise
        on_ready = self._on_accept if kind == "stream" else self._on_datagram
        self._loop.selector.register(self._listener, selectors.EVENT_READ, on_ready)
        self._loop.on_stop = self._close_in_loop
        self._loop.on_failure = self._on_failure
        self._loop.start()

    def _listen(self, listen: Any) -> socket.socket:
        if listen is None:
            if self._family == socket.AF_UNIX:
                self._own_dir = private_socket_dir()
                listen = os.path.join(self._own_dir, "proxy.sock")
            else:
                listen = ("::1", 0) if self._family == socket.AF_INET6 else ("127.0.0.1", 0)
        family = _family_of(listen)
        stream = self.kind == "stream"
        sock = tracked_socket(family, socket.SOCK_STREAM if stream else socket.SOCK_DGRAM)
        try:
            if family != socket.AF_UNIX and stream:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(os.fspath(listen) if family == socket.AF_UNIX else listen)
            if family == socket.AF_UNIX:
                self._socket_file = os.fspath(listen)
            if stream:
                sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    @staticmethod
    def _checked_one(fault: Any, kind: str) -> Fault:
        if not isinstance(fault, Fault):
            raise TypeError(f"FaultProxy takes faults such as Latency(0.1), not {fault!r}")
        if kind == "datagram" and not fault.datagram:
            raise ValueError(f"{fault!r} does not apply to a datagram proxy")
        return fault

    def _checked(self, faults: Tuple[Any, ...]) -> Tuple[Fault, ...]:
        return tuple(self._checked_one(fault, self.kind) for fault in faults)

    # -- the test's side ----------------------------------------------------------------------

    @property
    def address(self) -> Any:
        """Where clients connect: ``(host, port)`` or the Unix socket path."""
        if self._socket_file is not None:
            return self._socket_file
        assert self._listener is not None
        return self._listener.getsockname()[:2]

    @property
    def faults(self) -> Tuple[Fault, ...]:
        """The faults in force now, in order."""
        return self._faults

    def set_faults(self, *faults: Fault) -> None:
        """Replace the faults; open connections are affected at once.

        Example:
            >>> proxy.set_faults(Latency(0.05), Slice(10))  # doctest: +SKIP
        """
        checked = self._checked(faults)
        with self._faults_lock:
            self._faults = checked
        self._sync()

    def add(self, *faults: Fault) -> None:
        """Add faults after those in force.

        Example:
            >>> proxy.add(BlackHole(direction="to_client"))  # doctest: +SKIP
        """
        checked = self._checked(faults)
        with self._faults_lock:
            self._faults = self._faults + checked
        self._sync()

    def remove(self, *faults: Fault) -> None:
        """Remove faults (each equal one once).

        Raises:
            ValueError: A fault is not in force.

        Example:
            >>> proxy.remove(Latency(0.05))  # doctest: +SKIP
        """
        with self._faults_lock:
            kept = list(self._faults)
            for fault in faults:
                if fault not in kept:
                    raise ValueError(f"remove(): {fault!r} is not among the proxy's faults")
                kept.remove(fault)
            self._faults = tuple(kept)
        self._sync()

    def clear(self) -> None:
        """Remove every fault: bytes flow freely again (what a black hole dropped stays lost).

        Example:
            >>> proxy.clear()  # doctest: +SKIP
        """
        self.set_faults()

    def _sync(self) -> None:
        if not self._closed:
            self._loop.call_soon(self._sync_in_loop)

    def connect(self, timeout: Optional[float] = None) -> Union[StreamClient, DatagramClient]:
        """Return a scripted client connected through the proxy (closed with the proxy).

        Args:
            timeout: Seconds to wait for any one expectation; default: ``client_timeout``.

        Example:
            >>> proxy.connect().send_line("hi").expect_line("HI")  # doctest: +SKIP
            'HI'
        """
        if self._closed:
            raise ValueError(f"connect(): the proxy to {self.target!r} is closed")
        client = connect(
            self.address, self.kind, self.client_timeout if timeout is None else timeout
        )
        self._clients.append(client)
        return client

    @property
    def transcripts(self) -> List[ConnectionTranscript]:
        """One transcript per connection (per client address for datagrams), in order."""
        with self._cond:
            return list(self._transcripts)

    def wait_for_connections(
        self, count: int = 1, timeout: Optional[float] = None
    ) -> List[ConnectionTranscript]:
        """Wait until the proxy has accepted ``count`` connections; return all transcripts.

        Raises:
            TimeoutError: Fewer connections arrived within ``timeout`` (default: the
                client timeout).

        Example:
            >>> first = proxy.wait_for_connections(1)[0]  # doctest: +SKIP
        """
        limit = self.client_timeout if timeout is None else timeout
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._transcripts) >= count, limit):
                raise TimeoutError(
                    f"waited {limit:g} s for {count} connections through the proxy to "
                    f"{self.target!r}, {len(self._transcripts)} arrived"
                )
            return list(self._transcripts)

    def close(self) -> None:
        """Close the clients, every connection and the listener; stop the thread.

        Removes the Unix socket file. Safe to call twice. Raises what the proxy's
        thread raised, if anything did (a bug: the proxy should not raise).

        Example:
            >>> proxy.close()  # doctest: +SKIP
        """
        if self._closed:
            return
        self._closed = True
        try:
            for client in self._clients:
                client.disconnect()
            failures = self._loop.stop(_STOP_TIMEOUT)
            if self._loop.thread.is_alive():
                raise RuntimeError(f"the thread of {self!r} did not stop in {_STOP_TIMEOUT:g} s")
        finally:
            if self._socket_file is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._socket_file)
            self._remove_dir()
        if failures:
            raise failures[0]

    def teardown(self) -> List[str]:
        """Close like :meth:`close`, but report failures as lines instead of raising.

        The server handle's teardown uses it, so a failing proxy never stops the
        server's own teardown; each line then fails the test.

        Example:
            >>> proxy.teardown()  # doctest: +SKIP
            []
        """
        try:
            self.close()
        except Exception as exc:  # noqa: BLE001 - reported as a line, teardown goes on
            return [f"{self!r} failed: {exc!r}"]
        return []

    def _remove_dir(self) -> None:
        if self._own_dir is not None:
            directory, self._own_dir = self._own_dir, None
            remove_socket_dir(directory)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<FaultProxy to {self.target!r} with {len(self._faults)} faults ({state})>"

    # -- the proxy's thread -------------------------------------------------------------------

    def _new_link(self, link: Link) -> bool:
        # A new connection's transcript is published; True if a Refuse fault turns it away.
        with self._cond:
            self._transcripts.append(link.transcript)
            self._cond.notify_all()
        for fault in self._faults:
            if type(fault) is Refuse and link.begin(fault).applies:
                link.refuse(fault)
                return True
        return False

    def _on_accept(self, mask: int) -> None:
        assert self._listener is not None
        for _ in range(_BATCH):
            try:
                conn, peer = tracked_accept(self._listener)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # ECONNABORTED, EMFILE: the client sees it; the next wake-up retries
            link = StreamLink(self, next(self._numbers), conn, peer)
            if not self._new_link(link):
                self._links.add(link)
                link.start()

    def _on_datagram(self, mask: int) -> None:
        assert self._listener is not None
        for _ in range(_BATCH):
            try:
                data, peer = self._listener.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            link = self._datagram_links.get(peer)
            if link is None:
                link = DatagramLink(self, next(self._numbers), peer)
                self._datagram_links[peer] = link
                self._links.add(link)
                self._new_link(link)
            link.take(data)

    def _on_failure(self, callback: Callable[..., None], exc: Exception) -> None:
        # A callback of a connection raised (a bug, or a fault of the user's own): that
        # connection is reset, its transcript says why, and close() raises the exception.
        owner = getattr(callback, "__self__", None)
        link = getattr(owner, "link", owner)
        if isinstance(link, Link) and not link.closed:
            link.event("error", "", f"the proxy failed: {exc!r}")
            link.end("reset", "the proxy failed")

    def _note_upstream(self, number: int, address: Any) -> None:
        # The loop's thread: link `number` connected from `address`, or (None) ended.
        with self._cond:
            if address is None:
                self._upstreams.pop(number, None)
            else:
                self._upstreams[number] = address

    def open_upstreams(self) -> List[Any]:
        """The addresses of the proxy's open connections to the server, as the handlers see them.

        Teardown closes them: a handler that then finds its peer gone did nothing wrong.

        Example:
            >>> proxy.open_upstreams()  # doctest: +SKIP
            [('127.0.0.1', 50412)]
        """
        with self._cond:
            return list(self._upstreams.values())

    def _sync_in_loop(self) -> None:
        for link in list(self._links):
            link.sync_faults()

    def _close_in_loop(self) -> None:
        for link in list(self._links):
            link.end("close", "the proxy closed")
        self._links.clear()
        self._datagram_links.clear()
        if self._listener is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._loop.selector.unregister(self._listener)
            self._listener.close()
