"""The whole stream suite: the basic checks, then the kernel's edges."""

from __future__ import annotations

from typing import Callable, Tuple

from ._edges import EDGE_CHECKS
from ._stream import (  # noqa: F401 - for the examples
    PairFactory,
    _run_checks,
    check_closed_socket,
    check_eof,
    check_half_close,
    check_large_transfer,
    check_makefile_reads,
    check_makefile_writes,
    check_reset,
    check_send_recv,
    check_send_timeout,
    check_socket_options,
    check_timeouts,
    fake_stream_pair,
    socketpair_stream_pair,
)

__all__ = ["check_stream_socket"]

#: Every check, in the order :func:`check_stream_socket` runs them.
ALL_CHECKS: Tuple[Callable[[PairFactory], None], ...] = (
    check_send_recv,
    check_eof,
    check_half_close,
    check_reset,
    check_timeouts,
    check_makefile_reads,
    check_makefile_writes,
    check_large_transfer,
    check_send_timeout,
    check_closed_socket,
    check_socket_options,
    *EDGE_CHECKS,
)


def check_stream_socket(make_pair: PairFactory) -> None:
    """Run every conformance check against pairs from ``make_pair``.

    Args:
        make_pair: A callable returning a context manager that yields
            ``(sock, peer)``: see :func:`fake_stream_pair`.

    Raises:
        AssertionError: The first check that failed, named in the message.

    Example:
        >>> check_stream_socket(fake_stream_pair)
        >>> check_stream_socket(socketpair_stream_pair)
    """
    _run_checks(ALL_CHECKS, make_pair)
