"""The base errors of :mod:`netserve_testing`, rooted in :class:`NetserveTestingBaseException`.

Two branches grow from the root, as ``Exception`` grows from ``BaseException``:

* :class:`NetserveTestingError` (an ``Exception``): ordinary failures. The script
  wing adds :class:`~netserve_testing.ExpectationFailed`; the live wing adds the
  errors of real servers.
* :class:`HandlerWouldBlock` (a ``BaseException`` only, like pytest's own outcome
  exceptions): a verdict on the code under test, which that code's ``except
  Exception:`` or bare ``except:`` must not be able to swallow.

``except NetserveTestingBaseException`` catches everything the kit raises.
"""

from __future__ import annotations


class NetserveTestingBaseException(BaseException):
    """Root of every exception raised by :mod:`netserve_testing`.

    Catch this to catch anything the kit raises; catch :class:`NetserveTestingError`
    for the ordinary errors only (it leaves :class:`HandlerWouldBlock` alone).

    Example:
        >>> issubclass(HandlerWouldBlock, NetserveTestingBaseException)
        True
        >>> issubclass(NetserveTestingError, NetserveTestingBaseException)
        True
    """


class NetserveTestingError(NetserveTestingBaseException, Exception):
    """Base class of the ordinary errors raised by :mod:`netserve_testing`.

    Example:
        >>> issubclass(NetserveTestingError, Exception)
        True
    """


class HandlerWouldBlock(NetserveTestingBaseException):
    """A handler read (or wrote) on a fake socket where a real one would wait forever.

    It derives from ``BaseException``, not ``Exception``: a handler's own
    ``except Exception:`` (as in ``xmlrpc.server``'s ``do_POST``) or bare
    ``except:`` (as in ``wsgiref``'s ``ServerHandler.run``) cannot turn a hang
    into a passing test. The fake socket also remembers it: if the handler
    still catches it, :func:`~netserve_testing.run_handler` raises it anyway.

    Example:
        >>> str(HandlerWouldBlock("recv() with no data"))
        'recv() with no data'
        >>> issubclass(HandlerWouldBlock, Exception)
        False
    """
