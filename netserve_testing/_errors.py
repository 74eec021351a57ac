"""The base errors of :mod:`netserve_testing`, rooted in :class:`NetserveTestingError`.

The script wing adds :class:`~netserve_testing.ExpectationFailed`; the live wing adds the
errors of real servers. All derive from :class:`NetserveTestingError`.
"""

from __future__ import annotations


class NetserveTestingError(Exception):
    """Base class of every error raised by :mod:`netserve_testing`.

    Example:
        >>> issubclass(HandlerWouldBlock, NetserveTestingError)
        True
    """


class HandlerWouldBlock(NetserveTestingError, RuntimeError):
    """A handler read from a fake socket that has no more data and no timeout.

    A real server would wait forever here; the fake says so at once.

    Example:
        >>> str(HandlerWouldBlock("recv() with no data"))
        'recv() with no data'
    """
