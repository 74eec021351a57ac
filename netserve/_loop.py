"""The serve loop's plumbing: what ``serve_forever()`` waits with and how it backs off.

The selector class (``_ServerSelector``, which code written for ``socketserver``
patches through the package), the self-pipe that wakes the loop at once for
``shutdown()``, the accept() back-off when a resource runs out, and the
``netserve`` logger, imported on first use. :class:`~netserve.BaseServer` puts
them together; nothing here knows about servers.
"""

from __future__ import annotations

import errno
import os
import selectors
import sys

# Names for type checkers only: importing typing and logging at run time would double
# the cost of ``import netserve`` (mypy treats any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import Optional


def _logger() -> logging.Logger:
    # logging is imported on first use: most servers never log anything.
    import logging

    return logging.getLogger("netserve")


def _log(level: str, message: str, *args: object) -> None:
    # Logs through the "netserve" logger, at the level named ("warning", "info"). When
    # logging cannot be imported because no file descriptor is left (accept() failing
    # with EMFILE before anything imported logging), the line goes to stderr instead.
    try:
        logger = _logger()
    except (ImportError, OSError):
        print(f"netserve: {level.upper()}: {message % args}", file=sys.stderr)
        return
    getattr(logger, level)(message, *args)


# poll() scales better than select() and has no FD_SETSIZE limit. Code written for
# socketserver replaces it (``socketserver._ServerSelector = ...``, e.g. under eventlet):
# the loops read it from the package at each start, so such a patch takes effect.
if hasattr(selectors, "PollSelector"):
    _ServerSelector: type[selectors.BaseSelector] = selectors.PollSelector
else:  # pragma: no cover - platforms without poll()
    _ServerSelector = selectors.SelectSelector


def _new_selector() -> selectors.BaseSelector:
    selector_class = getattr(sys.modules.get(__package__ or ""), "_ServerSelector", None)
    return (selector_class or _ServerSelector)()


#: accept() errors that mean a resource ran out: the loop backs off instead of spinning.
_EXHAUSTION_ERRNOS = frozenset(
    code
    for code in (
        getattr(errno, "EMFILE", None),
        getattr(errno, "ENFILE", None),
        getattr(errno, "ENOBUFS", None),
        getattr(errno, "ENOMEM", None),
    )
    if code is not None
)
#: accept() errors that mean the socket itself is unusable (closed, never listening).
_UNUSABLE_ERRNOS = frozenset((errno.EBADF, errno.EINVAL, errno.ENOTSOCK))
#: The back-off after an exhaustion error doubles from the first to the last, in seconds.
ACCEPT_BACKOFF_FIRST = 0.01
ACCEPT_BACKOFF_LAST = 1.0


def _next_accept_backoff(backoff: float, exc: OSError) -> float:
    # The back-off after accept() failed with an exhaustion error, given the current one
    # (0 when accepts were succeeding): the first, then doubling up to the last. The
    # first failure of an episode logs the one WARNING.
    if backoff:
        return min(backoff * 2, ACCEPT_BACKOFF_LAST)
    _log(
        "warning",
        "accepting a request failed with %s (%s): pausing accepts for %g ms, "
        "doubling up to %g s, until one succeeds",
        errno.errorcode.get(exc.errno or 0, exc.errno),
        exc.strerror,
        ACCEPT_BACKOFF_FIRST * 1000,
        ACCEPT_BACKOFF_LAST,
    )
    return ACCEPT_BACKOFF_FIRST


class _AlwaysSet:
    # The "not serving" state of a server whose __init__ never ran: shutdown() has
    # nothing to wait for. A server gets its own Event when it starts serving.
    def is_set(self) -> bool:
        return True

    def wait(self, timeout: Optional[float] = None) -> bool:
        return True


class _Wakeup:
    """A self-pipe that wakes ``serve_forever()``; only its creating process writes to it.

    A forked child inherits the pipe: its writes would wake the parent's loop for
    a shutdown the parent never sees, so they are refused, and the loop drains
    whatever arrives so a stray byte cannot make ``select()`` spin.
    """

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._pid = os.getpid()

    def wake(self) -> None:
        if os.getpid() == self._pid:
            try:
                os.write(self._write_fd, b"\0")
            except BlockingIOError:
                pass  # A full pipe means wake-ups are pending already.

    def drain(self) -> None:
        try:
            while os.read(self.read_fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self._write_fd)
