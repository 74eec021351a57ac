"""What a served test learns about its server: requests, handler errors, and the failure report.

:class:`RequestRecord` and :class:`HandlerError` are plain, picklable records
(a forked child sends its own back to the test process); :class:`HandlerErrors`
is the sequence a test asserts on; :func:`format_problems` writes the report
that fails a test, with each handler's own traceback.
"""

from __future__ import annotations

import abc
import os
import re
import socketserver
import threading
import traceback
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Type, TypeVar, Union

import netserve

from .._errors import NetserveTestingError

__all__ = [
    "HandlerError",
    "HandlerErrors",
    "RequestRecord",
    "RequestsTimeout",
    "ServerCheckFailed",
    "format_problems",
]

ExceptionTypes = Union[Type[BaseException], Tuple[Type[BaseException], ...]]
Problems = Tuple[List["HandlerError"], List[str]]

_MAX_TRACEBACK = 32_000
_PACKAGE_DIR = os.path.dirname(os.path.normcase(os.path.abspath(__file__)))
# Files whose frames lead into the user's code: the harness of this package, the standard
# library's socketserver and the netserve package. A report starts below them.
_MACHINERY_FILES = frozenset(
    [
        os.path.join(_PACKAGE_DIR, "_recorder.py"),
        os.path.join(_PACKAGE_DIR, "_harness.py"),
        os.path.normcase(os.path.abspath(socketserver.__file__)),
    ]
)
_NETSERVE_DIR = os.path.dirname(os.path.normcase(os.path.abspath(netserve.__file__)))


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
    """Return the report of unhandled handler errors and leaks, each error with its traceback.

    Example:
        >>> print(format_problems([], ["socket file left behind: /run/app/s1.sock"]))
        netserve: 1 leak after teardown
        <BLANKLINE>
        leak: socket file left behind: /run/app/s1.sock
    """
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


_Self = TypeVar("_Self", bound="ChecksOnExit")


class ChecksOnExit(abc.ABC):
    # A context manager whose exit closes it and raises ServerCheckFailed for what
    # close() found, unless the block is already raising (that error stays the one
    # reported; teardown still happens).

    @abc.abstractmethod
    def close(self) -> Problems:
        """Stop everything; return ``(unhandled errors, leaks)``."""

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        errors, leaks = self.close()
        if (errors or leaks) and exc_info[0] is None:
            raise ServerCheckFailed(errors, leaks)


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

    def matches(self, exc_type: ExceptionTypes, match: str = "") -> bool:
        """Whether the error is an ``exc_type`` whose message contains the regex ``match``."""
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
    return path in _MACHINERY_FILES or os.path.dirname(path) == _NETSERVE_DIR


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

    Example:
        >>> [record.error for record in server.wait_for_requests(1)]  # doctest: +SKIP
        [None]
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

    def expect(self, exc_type: ExceptionTypes = Exception, match: str = "") -> HandlerError:
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
